/* SPDX-License-Identifier: MIT */
/* A self-contained interactive flame graph (SVG with its own script, no
 * network access): the aggregated stacks merged into a tree, root at the
 * bottom, each frame as wide as its count; click to zoom, Ctrl-F or
 * "Search" to highlight a regular expression, hover for the count and
 * percentage; a link's #zoom=PREFIX&search=REGEX does the same. The frames
 * are laid out here, so the picture shows even where scripts do not run. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"

enum { SVG_WIDTH = 1200, SVG_PAD = 10, SVG_FRAME_H = 16, SVG_TOP = 48, SVG_BOTTOM = 34 };

struct svg_node {
	pt_frame_id frame;
	uint64_t count, ns;           /* the width and the other weight */
	size_t parent, child, next;   /* indices; 0 none (node 0 is the root) */
	unsigned depth;
	char *name;                   /* set when laid out */
};

struct svg_tree {
	struct svg_node *v;
	size_t n, cap;
	bool failed;
};

static size_t svg_child(struct svg_tree *t, size_t parent, pt_frame_id frame)
{
	for (size_t c = t->v[parent].child; c; c = t->v[c].next)
		if (t->v[c].frame == frame)
			return c;
	if (t->n == t->cap) {
		size_t cap = t->cap * 2;
		struct svg_node *v = realloc(t->v, cap * sizeof(*v));
		if (!v) {
			t->failed = true;
			return 0;
		}
		t->v = v;
		t->cap = cap;
	}
	size_t c = t->n++;
	t->v[c] = (struct svg_node){ .frame = frame, .parent = parent, .next = t->v[parent].child,
				     .depth = t->v[parent].depth + 1 };
	t->v[parent].child = c;
	return c;
}

/* Text for XML: & < > " escaped, control bytes and bytes that are not
 * UTF-8 as '?', so that the file always parses. */
static void svg_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
			 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
		for (size_t k = 1; k < n; k++)
			if ((s[k] & 0xc0) != 0x80)
				n = 0;
		if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		if (n == 0 || c < 0x20 || c == 0x7f)
			fputc('?', f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else
			fputc(c, f);
		s++;
	}
}

/* The label that fits in w pixels (7 per character), as the script
 * writes it: cut with "..", nothing under 3 characters. */
static void svg_label(FILE *f, const char *name, double w)
{
	size_t fit = w > 6 ? (size_t)((w - 6) / 7) : 0, len = strlen(name);
	char buf[1024];

	if (fit < 3)
		return;
	if (len <= fit) {
		svg_text(f, name);
		return;
	}
	size_t cut = fit - 2 < sizeof(buf) - 3 ? fit - 2 : sizeof(buf) - 3;
	while (cut > 0 && ((unsigned char)name[cut] & 0xc0) == 0x80)
		cut--;  /* not inside a UTF-8 sequence */
	memcpy(buf, name, cut);
	strcpy(buf + cut, "..");
	svg_text(f, buf);
}

/* A colour per kind, its shade from the name (stable across runs). */
static void svg_colour(const struct pt_frame *fr, const char *name, char *out, size_t size)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	unsigned v1 = h % 55, v2 = (h >> 8) % 80, v3 = (h >> 16) % 55;
	switch (fr->kind) {
	case PT_FRAME_PYTHON:       /* warm: yellow to red */
		snprintf(out, size, "rgb(%u,%u,%u)", 200 + v1, 90 + v2 + v3, 40 + v3 / 2);
		break;
	case PT_FRAME_NATIVE:       /* blue */
		snprintf(out, size, "rgb(%u,%u,%u)", 80 + v3, 140 + v1, 200 + v1);
		break;
	case PT_FRAME_LABEL:        /* green: the syscall or event at the top */
		snprintf(out, size, "rgb(%u,%u,%u)", 80 + v3, 190 + v1, 80 + v3);
		break;
	default:
		snprintf(out, size, "rgb(%u,%u,%u)", 180 + v1, 180 + v1, 180 + v1);
	}
}

/* Children by name, so that the picture does not depend on event order. */
static int svg_child_cmp(const void *a, const void *b, void *tree)
{
	const struct svg_tree *t = tree;
	return strcmp(t->v[*(const size_t *)a].name, t->v[*(const size_t *)b].name);
}

static const char svg_script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"var W = %d, PAD = %d, FH = %d, TOTAL = %" PRIu64 ", UNIT = '%s';\n"
	"var frames = Array.prototype.slice.call(document.querySelectorAll('g.f'));\n"
	"var details = document.getElementById('details'), matched = document.getElementById('matched');\n"
	"var zoomed = null, searching = null;\n"
	"function num(g, a) { return +g.getAttribute(a); }\n"
	"function pct(n, of) { return (100 * n / of).toFixed(2) + '%%'; }\n"
	"function label(g, x, w) {\n"
	"  var t = g.querySelector('text'), name = g.getAttribute('data-n');\n"
	"  var fit = Math.floor((w - 6) / 7);\n"
	"  t.setAttribute('x', x + 3);\n"
	"  t.textContent = fit < 3 ? '' : name.length <= fit ? name : name.slice(0, fit - 2) + '..';\n"
	"}\n"
	"function place(g, x, w, visible, dim) {\n"
	"  var r = g.querySelector('rect');\n"
	"  g.style.display = visible ? '' : 'none';\n"
	"  if (!visible) return;\n"
	"  r.setAttribute('x', x); r.setAttribute('width', Math.max(w - 0.5, 0.1));\n"
	"  g.style.opacity = dim ? 0.55 : 1;\n"
	"  label(g, x, w);\n"
	"}\n"
	"function zoom(z) {\n"
	"  zoomed = z;\n"
	"  var zx = z ? num(z, 'data-x') : 0, zw = z ? num(z, 'data-w') : TOTAL, zd = z ? num(z, 'data-d') : 0;\n"
	"  var scale = (W - 2 * PAD) / zw;\n"
	"  frames.forEach(function (g) {\n"
	"    var x = num(g, 'data-x'), w = num(g, 'data-w'), d = num(g, 'data-d');\n"
	"    if (x >= zx && x + w <= zx + zw && d >= zd)\n"
	"      place(g, PAD + (x - zx) * scale, w * scale, w * scale >= 0.1, false);\n"
	"    else if (d < zd && x <= zx && x + w >= zx + zw)\n"
	"      place(g, PAD, W - 2 * PAD, true, true);\n"
	"    else\n"
	"      place(g, 0, 0, false, false);\n"
	"  });\n"
	"  document.getElementById('unzoom').style.opacity = z ? 1 : 0;\n"
	"}\n"
	"function search(re) {\n"
	"  searching = re;\n"
	"  var spans = [];\n"
	"  frames.forEach(function (g) {\n"
	"    var hit = re && re.test(g.getAttribute('data-n'));\n"
	"    var r = g.querySelector('rect');\n"
	"    r.setAttribute('fill', hit ? 'rgb(230,0,230)' : g.getAttribute('data-c'));\n"
	"    if (hit) spans.push([num(g, 'data-x'), num(g, 'data-x') + num(g, 'data-w')]);\n"
	"  });\n"
	"  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
	"  var covered = 0, end = -1;\n"
	"  spans.forEach(function (s) {\n"
	"    if (s[1] <= end) return;\n"
	"    covered += s[1] - Math.max(s[0], end); end = s[1];\n"
	"  });\n"
	"  matched.textContent = re ? 'Matched: ' + pct(covered, TOTAL) : '';\n"
	"  document.getElementById('search').textContent = re ? 'Reset Search' : 'Search';\n"
	"}\n"
	"function ask() {\n"
	"  if (searching) { search(null); return; }\n"
	"  var s = prompt('Search for (regular expression):', '');\n"
	"  if (!s) return;\n"
	"  try { search(new RegExp(s)); } catch (e) { matched.textContent = 'bad expression: ' + e.message; }\n"
	"}\n"
	"frames.forEach(function (g) {\n"
	"  g.addEventListener('click', function () { zoom(num(g, 'data-d') === 0 ? null : g); });\n"
	"  g.addEventListener('mouseover', function () { details.textContent = g.getAttribute('data-t'); });\n"
	"  g.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
	"});\n"
	"document.getElementById('unzoom').addEventListener('click', function () { zoom(null); });\n"
	"document.getElementById('search').addEventListener('click', ask);\n"
	"window.addEventListener('keydown', function (e) {\n"
	"  if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); ask(); }\n"
	"  else if (e.key === 'Escape') { zoom(null); search(null); }\n"
	"});\n"
	"zoom(null);\n"
	"/* A link can say where to look: #zoom=PREFIX&search=REGEX (the first\n"
	"   frame whose name starts with PREFIX). */\n"
	"location.hash.slice(1).split('&').forEach(function (kv) {\n"
	"  var i = kv.indexOf('='), k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));\n"
	"  if (k === 'zoom') {\n"
	"    var g = frames.filter(function (g) { return g.getAttribute('data-n').indexOf(v) === 0; })[0];\n"
	"    if (g) zoom(g);\n"
	"  } else if (k === 'search' && v) {\n"
	"    try { search(new RegExp(v)); } catch (e) { matched.textContent = 'bad expression: ' + e.message; }\n"
	"  }\n"
	"});\n"
	"]]></script>\n";

static void svg_fmt_ns(char *buf, size_t size, uint64_t ns)
{
	if (ns >= 1000000000)
		snprintf(buf, size, "%.3f s", (double)ns / 1e9);
	else if (ns >= 1000000)
		snprintf(buf, size, "%.3f ms", (double)ns / 1e6);
	else
		snprintf(buf, size, "%.3f us", (double)ns / 1e3);
}

static int svg_aggregate(struct pt_sink *s, const struct pt_fmt_aggregate *a)
{
	struct svg_tree t = { .cap = 256 };
	FILE *f = s->f;
	const char *unit = s->o.count_unit ? s->o.count_unit : "samples";
	bool by_time = a->by_time;
	int rc = 0;

	if (!(t.v = calloc(t.cap, sizeof(*t.v))))
		return -ENOMEM;
	t.n = 1;   /* the root: "all" */
	for (size_t i = 0; i < a->n && !t.failed; i++) {
		size_t n, node = 0;
		const pt_frame_id *ids = pt_intern_stack_get(a->in, a->v[i]->stack, &n, NULL);
		/* count holds the width: the count, or with by_time the ns. */
		uint64_t wv = by_time ? a->v[i]->ns : a->v[i]->count;
		t.v[0].count += wv;
		t.v[0].ns += a->v[i]->count;
		for (size_t k = n; k-- > 0 && !t.failed;) {
			if (pt_intern_frame_get(a->in, ids[k])->kind == PT_FRAME_NOTE)
				continue;
			node = svg_child(&t, node, ids[k]);
			t.v[node].count += wv;
			t.v[node].ns += by_time ? a->v[i]->count : a->v[i]->ns;
		}
	}
	unsigned maxdepth = 0;
	for (size_t i = 0; i < t.n && !t.failed; i++) {
		char name[1024];
		if (i == 0)
			snprintf(name, sizeof(name), "all");
		else
			pt_fmt_frame_name(pt_intern_frame_get(a->in, t.v[i].frame), name, sizeof(name));
		if (!(t.v[i].name = strdup(name)))
			t.failed = true;
		if (t.v[i].depth > maxdepth)
			maxdepth = t.v[i].depth;
	}
	if (t.failed) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t total = t.v[0].count ? t.v[0].count : 1;
	unsigned height = SVG_TOP + (maxdepth + 1) * SVG_FRAME_H + SVG_BOTTOM;
	double scale = (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)total;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%u\" viewBox=\"0 0 %d %u\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", SVG_WIDTH, height, SVG_WIDTH, height);
	fputs("<style type=\"text/css\">\n"
	      "text { font-family: monospace; font-size: 12px; fill: rgb(0,0,0); }\n"
	      "g.f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; cursor: pointer; }\n"
	      "g.f text { pointer-events: none; }\n"
	      ".button { cursor: pointer; fill: rgb(0,0,160); }\n"
	      "#title { font-size: 17px; text-anchor: middle; }\n"
	      "</style>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%u\" fill=\"rgb(248,248,240)\"/>\n",
		SVG_WIDTH, height);
	fprintf(f, "<text id=\"title\" x=\"%d\" y=\"24\">", SVG_WIDTH / 2);
	svg_text(f, s->o.title ? s->o.title : "pytrace");
	if (by_time) {
		char tb[32];
		svg_fmt_ns(tb, sizeof(tb), t.v[0].count);
		fprintf(f, " (%s, %zu stack%s)</text>\n", tb, a->n, a->n == 1 ? "" : "s");
	} else {
		fprintf(f, " (%" PRIu64 " %s, %zu stack%s)</text>\n", t.v[0].count, unit, a->n,
			a->n == 1 ? "" : "s");
	}
	fprintf(f, "<text id=\"unzoom\" class=\"button\" x=\"%d\" y=\"24\" style=\"opacity:0\">"
		"Reset Zoom</text>\n", SVG_PAD);
	fprintf(f, "<text id=\"search\" class=\"button\" x=\"%d\" y=\"24\" text-anchor=\"end\">"
		"Search</text>\n", SVG_WIDTH - SVG_PAD);
	fprintf(f, "<text id=\"matched\" x=\"%d\" y=\"%u\" text-anchor=\"end\"> </text>\n",
		SVG_WIDTH - SVG_PAD, height - 12);
	fprintf(f, "<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n", SVG_PAD, height - 12);

	/* Depth first, children by name; x in counts from the left. */
	size_t *stack = malloc(t.n * sizeof(*stack)), *kids = malloc(t.n * sizeof(*kids));
	uint64_t *xs = calloc(t.n, sizeof(*xs));
	if (!stack || !kids || !xs) {
		free(stack);
		free(kids);
		free(xs);
		rc = -ENOMEM;
		goto out;
	}
	size_t sp = 0, omitted = 0;
	stack[sp++] = 0;
	while (sp) {
		size_t i = stack[--sp];
		struct svg_node *nd = &t.v[i];
		size_t nk = 0;
		for (size_t c = nd->child; c; c = t.v[c].next)
			kids[nk++] = c;
		qsort_r(kids, nk, sizeof(*kids), svg_child_cmp, &t);
		uint64_t x = xs[i];
		for (size_t k = 0; k < nk; k++) {
			xs[kids[k]] = x;
			x += t.v[kids[k]].count;
		}
		for (size_t k = nk; k-- > 0;)
			stack[sp++] = kids[k];
		double w = (double)nd->count * scale;
		if (w < 0.1) {
			omitted++;
			continue;  /* too narrow to see even zoomed in a little */
		}
		const struct pt_frame *fr = i ? pt_intern_frame_get(a->in, nd->frame)
					      : &(struct pt_frame){ .kind = PT_FRAME_LABEL };
		char colour[32], tip[1200], timebuf[32];
		svg_colour(fr, nd->name, colour, sizeof(colour));
		if (by_time) {
			svg_fmt_ns(timebuf, sizeof(timebuf), nd->count);
			snprintf(tip, sizeof(tip), "%s (%s, %.2f%%; %" PRIu64 " %s)", nd->name, timebuf,
				 100.0 * (double)nd->count / (double)total, nd->ns, unit);
		} else if (a->has_time) {
			svg_fmt_ns(timebuf, sizeof(timebuf), nd->ns);
			snprintf(tip, sizeof(tip), "%s (%" PRIu64 " %s, %.2f%%; %s)", nd->name, nd->count,
				 unit, 100.0 * (double)nd->count / (double)total, timebuf);
		} else {
			snprintf(tip, sizeof(tip), "%s (%" PRIu64 " %s, %.2f%%)", nd->name, nd->count, unit,
				 100.0 * (double)nd->count / (double)total);
		}
		double px = SVG_PAD + (double)xs[i] * scale;
		unsigned y = height - SVG_BOTTOM - (nd->depth + 1) * SVG_FRAME_H;
		fprintf(f, "<g class=\"f\" data-x=\"%" PRIu64 "\" data-w=\"%" PRIu64 "\" data-d=\"%u\" "
			"data-c=\"%s\" data-n=\"", xs[i], nd->count, nd->depth, colour);
		svg_text(f, nd->name);
		fputs("\" data-t=\"", f);
		svg_text(f, tip);
		fputs("\"><title>", f);
		svg_text(f, tip);
		fprintf(f, "</title><rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
			"rx=\"2\"/><text x=\"%.2f\" y=\"%u\">", px, y, w > 0.5 ? w - 0.5 : w,
			SVG_FRAME_H - 1, colour, px + 3, y + 12);
		svg_label(f, nd->name, w);
		fputs("</text></g>\n", f);
	}
	free(stack);
	free(kids);
	free(xs);
	if (omitted)
		fprintf(f, "<!-- %zu frames narrower than 0.1 pixel left out -->\n", omitted);
	fprintf(f, svg_script, SVG_WIDTH, SVG_PAD, SVG_FRAME_H, total, by_time ? "ns" : unit);
	fputs("</svg>\n", f);
out:
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i].name);
	free(t.v);
	return rc;
}

const struct pt_format pt_format_svg = {
	.name = "svg",
	.caps = PT_FMT_AGGREGATE,
	.aggregate = svg_aggregate,
};
