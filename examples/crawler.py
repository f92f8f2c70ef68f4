# SPDX-License-Identifier: MIT
"""A small asyncio program for `pytrace dump --tasks`: a crawler whose
main task gathers a few fetchers, each waiting on a (simulated) download
behind a shared rate limiter, while a monitor task sleeps. It prints
"ready" once every task is parked, then runs until killed."""
import asyncio
import sys


class RateLimiter:
    def __init__(self):
        self.slots = asyncio.Semaphore(2)

    async def __aenter__(self):
        await self.slots.acquire()

    async def __aexit__(self, *exc):
        self.slots.release()


async def download(url):
    await asyncio.sleep(3600)          # the network, simulated
    return url


async def fetch(limiter, url):
    async with limiter:
        return await download(url)


async def monitor():
    while True:
        await asyncio.sleep(3600)


async def crawl(urls):
    limiter = RateLimiter()
    loop = asyncio.get_running_loop()
    fetchers = [loop.create_task(fetch(limiter, u), name="fetch %s" % u) for u in urls]
    return await asyncio.gather(*fetchers)


async def main():
    loop = asyncio.get_running_loop()
    loop.create_task(monitor(), name="monitor")
    crawler = loop.create_task(crawl(["/a", "/b", "/c"]), name="crawler")
    for _ in range(5):
        await asyncio.sleep(0)
    print("ready", flush=True)
    await crawler


asyncio.run(main())
