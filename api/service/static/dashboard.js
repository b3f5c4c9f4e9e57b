// The VoC dashboard: reads /v1 of the server that served it, draws with the plotly.js it serves. No other host.
"use strict";
const NAMES = JSON.parse(document.getElementById("aspect-names").textContent);
const T = {
  zh: {title: "客户之声 VoC 看板", period: "周期", group: "分组", alerts: "新出现的投诉 预警", trend: "情感趋势",
       aspect_trend: "各触点负面提及趋势", pain: "主要痛点", by_group: "分组对比", flagged: "可疑评论",
       conversations: "会话指标", need_key: "此服务需要 API 密钥：", save: "保存", none_alerts: "近期没有预警。",
       no_data: "还没有存储的评论。", no_groups: "没有带分组（店铺、品类、地区）的评论。", no_flagged: "没有被标记的评论。",
       no_conv: "还没有存储的会话。", all: "全部评论", topic: "主题", day: "日", week: "周", month: "月",
       negative: "负面", reviews: "条评论", per_period: "基线每期", share: "负面占比", mean_score: "平均得分",
       count: "评论数", neg_mentions: "负面提及数", aspect: "触点", quotes: "原话", mentions: "提及",
       flags: "标记", text: "评论", time: "时间", conv_count: "会话数", satisfied: "满意占比", resolved: "解决率",
       escalated: "升级率", positive: "正面", neutral: "中性", baseline: "基线", latest: "本期", not_enough: "数据不足以比较：",
       test_share: "负面占比检验", test_rate: "每条评论负面数检验", error: "加载失败："},
  en: {title: "VoC Dashboard", period: "Period", group: "Group", alerts: "Emerging complaints (alerts)", trend: "Sentiment trend",
       aspect_trend: "Negative mentions per aspect", pain: "Top pain points", by_group: "By group", flagged: "Flagged reviews",
       conversations: "Conversation KPIs", need_key: "This server needs an API key:", save: "Save",
       none_alerts: "No alerts in the recent periods.", no_data: "No stored reviews yet.",
       no_groups: "No reviews were stored with groups (shop, category, region).", no_flagged: "No flagged reviews.",
       no_conv: "No stored conversations yet.", all: "All reviews", topic: "Topic", day: "day", week: "week", month: "month",
       negative: "negative", reviews: "reviews", per_period: "baseline per period", share: "negative share",
       mean_score: "mean score", count: "reviews", neg_mentions: "negative mentions", aspect: "Aspect",
       quotes: "Quotes", mentions: "mentions", flags: "Flags", text: "Review", time: "Time", conv_count: "Conversations",
       satisfied: "Satisfied", resolved: "Resolved", escalated: "Escalated", positive: "positive", neutral: "neutral",
       baseline: "baseline", latest: "latest", not_enough: "Not enough data to compare: ",
       test_share: "negative-share test", test_rate: "negatives-per-review test", error: "Could not load: "},
};
const params = new URLSearchParams(location.search);
let lang = params.get("lang") || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");
if (!T[lang]) lang = "zh";
let key = sessionStorage.getItem("voc-api-key") || "";
const t = (k) => T[lang][k] || k;
const aspectName = (k) => (NAMES[k] && NAMES[k][lang]) || k;
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const pct = (x) => (100 * x).toFixed(1) + "%";
const body = (id) => document.querySelector(`#${id} .body`);

class AuthNeeded extends Error {}

async function api(path) {
  const r = await fetch(path, {headers: key ? {Authorization: "Bearer " + key} : {}});
  if (r.status === 401 || r.status === 403) throw new AuthNeeded();
  if (r.status === 409) return null;  // storage is off: every section shows its empty state
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function scopeLabel(a) {
  const g = a.group ? `${a.group.name} = ${a.group.value}` : "";
  if (a.dimension === "aspect") return aspectName(a.aspect) + (g ? ` · ${g}` : "");
  if (a.dimension === "topic") return `${t("topic")} ${a.topic}`;
  if (a.dimension === "group") return g;
  return t("all");
}

function periodLabel(period, start) {  // 2026-10-12 · week of 2026-10-12 / 2026-10-12 当周 · 2026-10
  if (period === "month") return start.slice(0, 7);
  if (period === "week") return lang === "zh" ? `${start} 当周` : `week of ${start}`;
  return start;
}

function renderAlerts(res) {
  const el = body("alerts");
  if (!res || !res.latest) { el.innerHTML = `<p class="empty">${t("no_data")}</p>`; return; }
  if (!res.alerts.length) {
    el.innerHTML = `<p class="empty">${res.reason ? t("not_enough") + esc(res.reason) : t("none_alerts")}</p>`;
    return;
  }
  el.innerHTML = res.alerts.map((a) => `<div class="alert" data-alert-id="${esc(a.id)}">
    <div class="scope">${esc(scopeLabel(a))} — ${esc(periodLabel(a.period, a.start))}</div>
    <div class="nums">${t("latest")}: ${a.size} ${t("negative")} / ${a.latest.mentions} (${pct(a.latest.negative_share)}) ·
      ${t("per_period")}: ${a.baseline.negative_per_period} (${pct(a.baseline.negative_share)}) ·
      ×${a.change.ratio} · ${t("test_" + a.test)} p=${a.p_value}, q=${a.q_value}</div>
    ${a.quotes.map((q) => `<q>${esc(q.text)}</q>`).join("")}</div>`).join("");
}

function plot(id, data, layout) {
  Plotly.react(id, data, {margin: {t: 10, r: 60}, height: 340, legend: {orientation: "h"}, ...layout},
               {displaylogo: false, responsive: true});
}

function renderTrend(stats, period) {
  const el = body("trend");
  if (!stats || !stats.groups.length) { el.innerHTML = `<p class="empty">${t("no_data")}</p>`; Plotly.purge("chart-trend"); return; }
  el.innerHTML = "";
  const x = stats.groups.map((g) => g.key);
  plot("chart-trend", [
    // the counts as bars on the left axis, under the lines (a trace on an overlaying axis is drawn on top)
    {type: "bar", name: t("count"), x, y: stats.groups.map((g) => g.count), marker: {color: "#dde3ea"}},
    {type: "scatter", mode: "lines+markers", name: t("share"), x, y: stats.groups.map((g) => g.share.negative), yaxis: "y2", marker: {color: "#d6453d"}},
    {type: "scatter", mode: "lines+markers", name: t("mean_score"), x, y: stats.groups.map((g) => g.mean_score), yaxis: "y2", marker: {color: "#4c78a8"}},
  ], {xaxis: {type: "category", title: {text: t(period)}}, yaxis: {title: {text: t("count")}, rangemode: "tozero"},
      yaxis2: {overlaying: "y", side: "right", range: [-1, 1], tickvals: [-1, -0.5, 0, 0.5, 1],
               title: {text: `${t("share")} / ${t("mean_score")}`}}});
}

function renderAspects(stats, period) {
  const el = body("aspects");
  if (!stats || !stats.groups.length) { el.innerHTML = `<p class="empty">${t("no_data")}</p>`; Plotly.purge("chart-aspects"); return; }
  el.innerHTML = "";
  const periods = [...new Set(stats.groups.map((g) => g.key[0]))].sort();
  const per = {};
  for (const g of stats.groups) {
    const [p, a] = g.key;
    (per[a] ||= {})[p] = Math.round(g.count * g.share.negative);
  }
  plot("chart-aspects", Object.entries(per).map(([a, v]) => ({type: "scatter", mode: "lines+markers", name: aspectName(a),
    x: periods, y: periods.map((p) => v[p] || 0)})),
    {xaxis: {type: "category", title: {text: t(period)}}, yaxis: {title: {text: t("neg_mentions")}, rangemode: "tozero"}});
}

function renderPain(res) {
  const el = body("pain");
  if (!res || !res.pain_points.length) { el.innerHTML = `<p class="empty">${t("no_data")}</p>`; return; }
  el.innerHTML = `<table><tr><th>${t("aspect")}</th><th>${t("negative")}</th><th>${t("share")}</th><th>${t("quotes")}</th></tr>` +
    res.pain_points.map((p) => `<tr><td>${esc(aspectName(p.aspect))}</td><td>${p.negative} / ${p.mentions}</td>
      <td>${pct(p.negative_share)}</td><td class="quotes">${p.quotes.map((q) => `<q>${esc(q.text)}</q>`).join("")}</td></tr>`).join("") +
    "</table>";
}

async function renderGroups(names) {
  const el = body("groups"), select = document.getElementById("group");
  if (!names || !names.groups.length) {
    el.innerHTML = `<p class="empty">${t("no_groups")}</p>`; Plotly.purge("chart-groups"); select.innerHTML = ""; return;
  }
  const chosen = select.value && names.groups.includes(select.value) ? select.value : names.groups[0];
  select.innerHTML = names.groups.map((g) => `<option${g === chosen ? " selected" : ""}>${esc(g)}</option>`).join("");
  const stats = await api(`/v1/stats?by=${encodeURIComponent("group:" + chosen)}`);
  const groups = stats.groups.filter((g) => g.key !== null);
  el.innerHTML = "";
  plot("chart-groups", ["positive", "neutral", "negative"].map((lab) => ({type: "bar", orientation: "h", name: t(lab),
    y: groups.map((g) => `${g.key} (${g.count})`), x: groups.map((g) => g.share[lab]),
    marker: {color: {positive: "#2e9d5b", neutral: "#9aa0a6", negative: "#d6453d"}[lab]}})),
    {barmode: "stack", height: 120 + 32 * groups.length, xaxis: {tickformat: ".0%", title: {text: t("share")}},
     yaxis: {title: {text: chosen}, automargin: true}});
}

function renderFlagged(res) {
  const el = body("flagged");
  if (!res || !res.items.length) { el.innerHTML = `<p class="empty">${t("no_flagged")}</p>`; return; }
  el.innerHTML = `<p>${Object.entries(res.counts).map(([f, n]) => `${esc(f)}: ${n}`).join(" · ")}</p>
    <table><tr><th>${t("time")}</th><th>${t("flags")}</th><th>${t("text")}</th></tr>` +
    res.items.map((i) => `<tr><td>${esc(i.time.slice(0, 10))}</td>
      <td>${i.flags.map((f) => esc(f.kind) + (f.reason ? `: ${esc(f.reason)}` : "")).join("<br>")}</td><td>${esc(i.text)}</td></tr>`).join("") +
    "</table>";
}

function renderConversations(k) {
  const el = body("conversations");
  if (!k || !k.conversations) { el.innerHTML = `<p class="empty">${t("no_conv")}</p>`; return; }
  const cells = [[t("conv_count"), k.conversations]];
  if (k.satisfaction) cells.push([t("satisfied"), pct(k.satisfaction.positive)]);
  if (k.resolved !== undefined) cells.push([t("resolved"), pct(k.resolved)]);
  if (k.escalated !== undefined) cells.push([t("escalated"), pct(k.escalated)]);
  el.innerHTML = `<div class="kpis">${cells.map(([n, v]) => `<div class="kpi"><b>${esc(v)}</b>${esc(n)}</div>`).join("")}</div>`;
}

async function load() {
  document.documentElement.lang = lang;
  document.getElementById("lang").value = lang;
  document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
  const chosen = document.getElementById("period").value;
  try {
    // history: the recent periods' alerts too (newest first), so last week's spike stays in view this week
    const alerts = await api("/v1/alerts?history=1" + (chosen ? `&period=${chosen}` : ""));
    const period = chosen || (alerts && alerts.period) || "week";
    renderAlerts(alerts);
    const [trend, aspects, pain, names, flagged, conv] = await Promise.all([
      api(`/v1/stats?by=${period}`), api(`/v1/stats?by=${period},aspect`), api("/v1/pain_points"),
      api("/v1/groups"), api("/v1/flagged"), api("/v1/conversations/kpis")]);
    renderTrend(trend, period);
    renderAspects(aspects, period);
    renderPain(pain);
    await renderGroups(names);
    renderFlagged(flagged);
    renderConversations(conv);
    document.getElementById("keybox").style.display = "none";
    document.body.dataset.loaded = "1";
  } catch (e) {
    if (e instanceof AuthNeeded) {
      document.getElementById("keybox").style.display = "block";
    } else {
      body("alerts").innerHTML = `<p class="error">${t("error")}${esc(e.message)}</p>`;
    }
  }
}

document.getElementById("lang").addEventListener("change", (e) => { lang = e.target.value; load(); });
document.getElementById("period").addEventListener("change", load);
document.getElementById("group").addEventListener("change", load);
document.getElementById("keysave").addEventListener("click", () => {
  key = document.getElementById("key").value.trim();
  sessionStorage.setItem("voc-api-key", key);  // this tab only: closed, the key is gone
  load();
});
load();
