// storyweave web page: the story list (/) and one story (/story/{id}).
// Every piece of article-derived text goes into the page through
// textContent or setAttribute, never as markup.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const PAGE = 50;

// ---------- DOM helpers ----------

// el('div', {class: 'x'}, child, 'text', ...): strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, String(v));
  }
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// Only web links become hrefs: a stored `javascript:` url stays plain text.
function safeUrl(u) {
  if (typeof u !== 'string') return null;
  try {
    const parsed = new URL(u, location.origin);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

// ---------- formatting ----------

const langNames = (() => {
  try { return new Intl.DisplayNames(['en'], { type: 'language' }); } catch (_) { return null; }
})();

function langName(code) {
  try { return (langNames && langNames.of(code)) || code; } catch (_) { return code; }
}

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC',
});
const shortFmt = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC',
});
const dayFmt = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

function fmtDate(s) {
  const d = new Date(s);
  return isNaN(d) ? '' : dateFmt.format(d) + ' UTC';
}

function fmtSpan(a, b) {
  const d1 = new Date(a);
  const d2 = new Date(b);
  if (isNaN(d1) || isNaN(d2)) return '';
  if (d2 - d1 < 60 * 1000) return dateFmt.format(d1) + ' UTC';
  return dateFmt.format(d1) + ' – ' + shortFmt.format(d2) + ' UTC';
}

function plural(n, word) {
  if (n === 1) return '1 ' + word;
  return n + ' ' + (word.endsWith('y') ? word.slice(0, -1) + 'ies' : word + 's');
}

function badge(lang, count) {
  return el('span', { class: 'badge', title: langName(lang), 'data-lang': lang },
    lang, count ? el('span', { class: 'badge-n' }, count) : null);
}

// The timeline with empty buckets filled in, so bars sit at their true times.
function series(story) {
  const pts = story.timeline || [];
  if (pts.length === 0) return [];
  const step = story.timeline_bucket === 'hour' ? 3600e3 : 86400e3;
  const t0 = Date.parse(pts[0].at);
  const t1 = Date.parse(pts[pts.length - 1].at);
  const n = Math.round((t1 - t0) / step) + 1;
  if (!(n > 0) || n > 400) return pts.map((p) => ({ at: Date.parse(p.at), count: p.count }));
  const out = [];
  for (let i = 0; i < n; i++) out.push({ at: t0 + i * step, count: 0 });
  for (const p of pts) {
    const i = Math.round((Date.parse(p.at) - t0) / step);
    if (out[i]) out[i].count += p.count;
  }
  return out;
}

// ---------- charts ----------

function sparkline(story) {
  const s = series(story);
  const w = 120, h = 30;
  const box = svg('svg', { class: 'spark', viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img' });
  box.append(svg('title', {}, 'Articles over time (' + story.timeline_bucket + 'ly)'));
  if (s.length === 0) return box;
  const max = Math.max(...s.map((p) => p.count));
  const bw = w / s.length;
  s.forEach((p, i) => {
    const bh = p.count === 0 ? 0 : Math.max(2, (p.count / max) * (h - 2));
    box.append(svg('rect', {
      x: (i * bw + bw * 0.1).toFixed(2), y: (h - bh).toFixed(2),
      width: Math.max(1, bw * 0.8).toFixed(2), height: bh.toFixed(2), rx: 1,
    }));
  });
  box.append(svg('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: 'axis' }));
  return box;
}

function timelineChart(story) {
  const s = series(story);
  const w = 640, h = 180, left = 28, bottom = 24, top = 10;
  const box = svg('svg', { class: 'chart', viewBox: `0 0 ${w} ${h}`, role: 'img', preserveAspectRatio: 'xMidYMid meet' });
  box.append(svg('title', {}, 'Articles per ' + story.timeline_bucket));
  if (s.length === 0) return box;
  const max = Math.max(...s.map((p) => p.count));
  const plotW = w - left - 8, plotH = h - top - bottom;
  // Bars at most 48 wide, centred: one bucket should not fill the chart.
  const bw = Math.min(plotW / s.length, 48);
  const x0 = left + (plotW - bw * s.length) / 2;
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH - frac * plotH;
    box.append(svg('line', { x1: left, y1: y, x2: w - 8, y2: y, class: frac === 0 ? 'axis' : 'grid' }));
    if (frac > 0 && Number.isInteger(max * frac)) {
      box.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, String(max * frac)));
    }
  }
  s.forEach((p, i) => {
    if (p.count === 0) return;
    const bh = (p.count / max) * plotH;
    const r = svg('rect', {
      x: (x0 + i * bw + bw * 0.12).toFixed(2), y: (top + plotH - bh).toFixed(2),
      width: Math.max(1.5, bw * 0.76).toFixed(2), height: bh.toFixed(2), rx: 2, class: 'bar',
    });
    r.append(svg('title', {}, plural(p.count, 'article') + ' · ' + fmtDate(p.at)));
    box.append(r);
  });
  const label = (t) => (story.timeline_bucket === 'hour' ? shortFmt : dayFmt).format(new Date(t));
  if (s.length === 1) {
    box.append(svg('text', { x: x0 + bw / 2, y: h - 6, 'text-anchor': 'middle', class: 'tick' }, label(s[0].at)));
  } else {
    box.append(svg('text', { x: x0, y: h - 6, class: 'tick' }, label(s[0].at)));
    box.append(svg('text', { x: x0 + bw * s.length, y: h - 6, 'text-anchor': 'end', class: 'tick' }, label(s[s.length - 1].at)));
  }
  return box;
}

function hbars(items, total, labelFn) {
  const max = Math.max(1, ...items.map((c) => c.count));
  return el('div', { class: 'hbars' }, items.map((c) =>
    el('div', { class: 'hbar' },
      el('span', { class: 'hbar-label' }, labelFn ? labelFn(c.key) : c.key),
      el('span', { class: 'hbar-track' },
        el('span', { class: 'hbar-fill', 'data-w': Math.round((c.count / max) * 100) })),
      el('span', { class: 'hbar-n' }, c.count + (total ? ' · ' + Math.round((c.count / total) * 100) + '%' : '')))));
}

// Widths are set through the CSSOM (inline style attributes are refused by the CSP).
function sizeBars(root) {
  root.querySelectorAll('.hbar-fill').forEach((b) => { b.style.width = b.getAttribute('data-w') + '%'; });
}

// ---------- API ----------

async function api(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((body && body.error) || res.status + ' ' + res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

function showError(where, e) {
  clear(where);
  where.append(el('div', { class: 'error' }, 'Could not load: ' + e.message));
}

let toastTimer = null;
function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---------- list page ----------

const list = { offset: 0, total: 0, searching: false, refreshTimer: null };

function storyCard(s) {
  const langs = (s.coverage || []).slice().sort((a, b) => a.key.localeCompare(b.key));
  return el('article', { class: 'card', 'data-story': s.id },
    el('div', { class: 'card-main' },
      el('a', { class: 'headline', href: '/story/' + encodeURIComponent(s.id) }, s.headline || '(untitled story)'),
      el('div', { class: 'meta' },
        el('span', { class: 'badges' }, langs.map((c) => badge(c.key))),
        el('span', { class: 'count' }, plural(s.article_count, 'article')),
        el('span', { class: 'span' }, fmtSpan(s.first_seen, s.last_updated)))),
    sparkline(s));
}

async function loadList(main, append) {
  const params = new URLSearchParams({ limit: PAGE, offset: append ? list.offset : 0, articles: 0 });
  const data = await api('/api/stories?' + params);
  let box = main.querySelector('.cards');
  if (!append || !box) {
    clear(main);
    main.append(el('div', { class: 'list-head' },
      el('h1', {}, 'Stories'),
      el('span', { class: 'muted', id: 'total' }, plural(data.total, 'story'))));
    box = el('div', { class: 'cards' });
    main.append(box);
    list.offset = 0;
  }
  for (const s of data.stories) box.append(storyCard(s));
  list.offset += data.stories.length;
  list.total = data.total;
  const old = main.querySelector('.more');
  if (old) old.remove();
  if (data.total === 0) {
    box.append(el('p', { class: 'muted' }, 'No stories yet. Ingest articles with `storyweave ingest` or POST /api/articles.'));
  } else if (list.offset < data.total) {
    const more = el('button', { class: 'more', type: 'button' }, 'Show more (' + (data.total - list.offset) + ' left)');
    more.addEventListener('click', () => loadList(main, true).catch((e) => showError(main, e)));
    main.append(more);
  }
}

async function runSearch(main, q) {
  list.searching = true;
  clear(main);
  main.append(el('p', { class: 'muted' }, 'Searching…'));
  const data = await api('/api/search?' + new URLSearchParams({ q }));
  clear(main);
  const back = el('a', { href: '/', class: 'back' }, '← All stories');
  main.append(el('div', { class: 'list-head' },
    el('h1', {}, 'Results for “', q, '”'),
    el('span', { class: 'muted' }, plural(data.results.length, 'story'))), back);
  if (data.results.length === 0) {
    main.append(el('p', { class: 'muted' }, 'No story matches.'));
    return;
  }
  const box = el('div', { class: 'cards' });
  for (const r of data.results) {
    box.append(el('article', { class: 'card', 'data-story': r.story },
      el('div', { class: 'card-main' },
        el('a', { class: 'headline', href: '/story/' + encodeURIComponent(r.story) }, r.headline || '(untitled story)'),
        el('div', { class: 'meta' },
          el('span', { class: 'badges' }, (r.languages || []).map((l) => badge(l))),
          el('span', { class: 'count' }, plural(r.article_count, 'article')),
          el('span', { class: 'match match-' + r.match, title: 'similarity ' + r.score.toFixed(3) }, r.match)))));
  }
  main.append(box);
}

function scheduleRefresh(main) {
  if (list.searching) return;
  clearTimeout(list.refreshTimer);
  list.refreshTimer = setTimeout(() => {
    // Keep what is shown: reload as many stories as were on screen.
    const shown = Math.max(PAGE, list.offset);
    api('/api/stories?' + new URLSearchParams({ limit: Math.min(shown, 500), offset: 0, articles: 0 }))
      .then((data) => {
        const box = main.querySelector('.cards');
        if (!box) return;
        clear(box);
        for (const s of data.stories) box.append(storyCard(s));
        list.offset = data.stories.length;
        list.total = data.total;
        const total = document.getElementById('total');
        if (total) total.textContent = plural(data.total, 'story');
        flashPending();
      })
      .catch(() => {});
  }, 300);
}

const pendingFlash = new Set();
function flashPending() {
  for (const id of pendingFlash) {
    const card = document.querySelector('.card[data-story="' + Number(id) + '"]');
    if (card) card.classList.add('flash');
  }
  pendingFlash.clear();
}

// ---------- story page ----------

const KIND_LABEL = { person: 'People', place: 'Places', organisation: 'Organisations' };

function section(title, ...body) {
  return el('section', { class: 'panel' }, el('h2', {}, title), ...body);
}

function renderStory(main, s, askedId) {
  clear(main);
  document.title = s.headline + ' · storyweave';
  const head = el('div', { class: 'story-head' },
    el('a', { href: '/', class: 'back' }, '← All stories'),
    el('h1', { class: 'story-title' }, s.headline || '(untitled story)'),
    el('div', { class: 'meta' },
      el('span', { class: 'badges' }, s.languages.map((l) => badge(l))),
      el('span', {}, plural(s.article_count, 'article')),
      el('span', {}, plural(s.languages.length, 'language')),
      el('span', {}, fmtSpan(s.first_seen, s.last_updated)),
      el('span', { class: 'muted' }, 'story #' + s.id)));
  main.append(head);
  if (askedId !== s.id) {
    main.append(el('p', { class: 'note' }, 'Story #' + askedId + ' was merged into this one.'));
  }

  const headlines = Object.entries(s.headlines || {});
  if (headlines.length > 0) {
    main.append(section('Headlines by language',
      el('ul', { class: 'headlines' }, headlines.map(([lang, h]) =>
        el('li', {}, badge(lang), el('span', { class: 'hl', lang }, h))))));
  }

  const groups = {};
  for (const e of s.entities || []) (groups[e.type] = groups[e.type] || []).push(e);
  const kinds = Object.keys(groups).sort((a, b) =>
    (KIND_LABEL[a] ? 0 : 1) - (KIND_LABEL[b] ? 0 : 1) || a.localeCompare(b));
  const entityPanel = section('Entities', kinds.length === 0 ? el('p', { class: 'muted' }, 'None found.') : null,
    kinds.map((k) => el('div', { class: 'entity-group', 'data-kind': k },
      el('h3', {}, KIND_LABEL[k] || k || 'Other'),
      el('div', { class: 'chips' }, groups[k].slice(0, 24).map((e) =>
        el('span', { class: 'chip', title: e.key }, e.name, el('span', { class: 'chip-n' }, e.count)))))),
    (s.keywords || []).length > 0 ? el('div', { class: 'entity-group' }, el('h3', {}, 'Keywords'),
      el('div', { class: 'chips' }, s.keywords.map((k) => el('span', { class: 'chip chip-kw' }, k)))) : null);

  const timelinePanel = section('Timeline', el('p', { class: 'muted small' }, 'Articles per ' + s.timeline_bucket + ' (UTC)'), timelineChart(s));
  const coveragePanel = section('Coverage by language', hbars(s.coverage, s.article_count, (k) => k + ' · ' + langName(k)));
  const sourcesPanel = (s.sources || []).length > 0 ? section('Sources', hbars(s.sources.slice(0, 8), 0)) : null;

  main.append(el('div', { class: 'grid' },
    el('div', { class: 'col' }, timelinePanel, coveragePanel, sourcesPanel),
    el('div', { class: 'col' }, entityPanel)));

  if ((s.angles || []).length > 0) {
    main.append(section('Angles',
      el('ul', { class: 'angles' }, s.angles.map((a) => el('li', {}, badge(a.lang), el('span', {}, a.line))))));
  }

  const byLang = {};
  for (const a of s.articles || []) (byLang[a.lang] = byLang[a.lang] || []).push(a);
  const order = (s.coverage || []).map((c) => c.key).filter((l) => byLang[l]);
  for (const l of Object.keys(byLang)) if (!order.includes(l)) order.push(l);
  main.append(section('Articles',
    order.map((lang) => el('div', { class: 'lang-group', 'data-lang': lang },
      el('h3', {}, badge(lang), ' ', langName(lang), el('span', { class: 'muted' }, ' · ' + plural(byLang[lang].length, 'article'))),
      byLang[lang].map(articleItem)))));
  sizeBars(main);
}

function articleItem(a) {
  const href = safeUrl(a.url);
  const title = a.title || a.snippet.split(/[.!?\n]/)[0].slice(0, 120) || a.id;
  return el('article', { class: 'article', 'data-article': a.id, lang: a.lang },
    el('h4', {}, href ? el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, title) : title),
    el('div', { class: 'meta small' },
      a.source ? el('span', {}, a.source) : null,
      a.published_at ? el('span', {}, fmtDate(a.published_at)) : el('span', { class: 'muted' }, 'undated'),
      el('span', { class: 'muted mono' }, a.id)),
    a.snippet ? el('p', { class: 'snippet' }, a.snippet + (a.snippet.length >= 240 ? '…' : '')) : null,
    el('p', { class: 'why' }, el('span', { class: 'why-label' }, 'Why here: '), a.why_line));
}

async function loadStory(main, id) {
  try {
    const s = await api('/api/stories/' + encodeURIComponent(id));
    renderStory(main, s, id);
    if (s.id !== id) history.replaceState(null, '', '/story/' + s.id);
    return s;
  } catch (e) {
    clear(main);
    main.append(el('a', { href: '/', class: 'back' }, '← All stories'),
      el('div', { class: 'error' }, e.status === 404 ? 'No story #' + id + '.' : 'Could not load: ' + e.message));
    return null;
  }
}

// ---------- live updates ----------

function connectEvents(onEvent) {
  const live = document.getElementById('live');
  if (!window.EventSource) return;
  const es = new EventSource('/api/events');
  es.onopen = () => { live.textContent = 'live'; live.classList.add('on'); };
  es.onerror = () => { live.textContent = 'reconnecting'; live.classList.remove('on'); };
  for (const kind of ['story_created', 'story_updated', 'story_merged']) {
    es.addEventListener(kind, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (_) { return; }
      onEvent(kind, data);
    });
  }
}

// ---------- boot ----------

function boot() {
  const main = document.getElementById('app');
  const form = document.getElementById('search');
  const input = document.getElementById('q');
  const m = location.pathname.match(/^\/story\/(-?\d+)\/?$/);
  if (m) {
    let id = Number(m[1]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (input.value.trim()) location.href = '/?' + new URLSearchParams({ q: input.value.trim() });
    });
    loadStory(main, id).then((s) => { if (s) id = s.id; });
    connectEvents((kind, d) => {
      if (d.story === id || d.merged_from === id) {
        toast(kind === 'story_merged' ? 'Another story was merged into this one' : 'New articles in this story');
        loadStory(main, d.story).then((s) => { if (s) id = s.id; });
      }
    });
    return;
  }
  const q = new URLSearchParams(location.search).get('q');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    history.pushState(null, '', text ? '/?' + new URLSearchParams({ q: text }) : '/');
    if (text) runSearch(main, text).catch((e) => showError(main, e));
    else { list.searching = false; loadList(main, false).catch((e) => showError(main, e)); }
  });
  window.addEventListener('popstate', () => location.reload());
  if (q) {
    input.value = q;
    runSearch(main, q).catch((e) => showError(main, e));
  } else {
    loadList(main, false).catch((e) => showError(main, e));
  }
  connectEvents((kind, d) => {
    if (kind === 'story_created') toast('New story: ' + d.headline);
    pendingFlash.add(d.story);
    scheduleRefresh(main);
  });
}

document.addEventListener('DOMContentLoaded', boot);
