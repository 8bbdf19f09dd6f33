import { CONSOLE_CSS } from '../console.js';

const LIGHT = `--bg:#f6f8fa;--panel:#fff;--panel2:#f0f3f6;--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--link:#0969da;--focus:#0969da;--ok:#17803d;--ok-bg:#e6f4ea;--warn:#9a6700;--warn-bg:#fff4d6;--bad:#b42318;--bad-bg:#fde8e7;--unk:#555;--unk-bg:#eceff1;--chip:#f3f3f3;--spark:#8c959f`;
const DARK = `--bg:#0d1117;--panel:#161b22;--panel2:#1c2230;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--link:#58a6ff;--focus:#58a6ff;--ok:#3fb950;--ok-bg:#12261a;--warn:#d29922;--warn-bg:#2b2111;--bad:#f85149;--bad-bg:#33181a;--unk:#a5adb6;--unk-bg:#22272e;--chip:#262c36;--spark:#6e7681`;

const BASE = `
:root{${LIGHT};color-scheme:light}
:root[data-theme=dark]{${DARK};color-scheme:dark}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){${DARK};color-scheme:dark}}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0;background:var(--bg)}
a{color:var(--link)}
main{max-width:1280px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:16px 0 6px}
header.top{display:flex;gap:16px;align-items:flex-start;justify-content:space-between}
.meta{color:var(--muted)}.meta span{margin-right:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:24px}.card.ok b{color:var(--ok)}.card.warn b{color:var(--warn)}.card.bad b{color:var(--bad)}.card.unk b{color:var(--unk)}
table{border-collapse:collapse;width:100%;background:var(--panel);border:1px solid var(--line)}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}th{background:var(--panel2);font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}.badge.warn{color:var(--warn);background:var(--warn-bg)}.badge.bad{color:var(--bad);background:var(--bad-bg)}.badge.unk{color:var(--unk);background:var(--unk-bg)}.badge.muted{color:var(--muted);background:var(--chip)}
.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.hint{border-left:4px solid var(--warn);background:var(--warn-bg);padding:6px 10px;margin:6px 0;border-radius:4px}.hint b{display:block}
.err{border-left:4px solid var(--bad);background:var(--bad-bg);padding:6px 10px;margin:6px 0;border-radius:4px}
.cause{background:var(--bad-bg)}.cause.other,.lint{background:var(--warn-bg)}.lint.error{background:var(--bad-bg)}
ul.ev{margin:4px 0 8px 0;padding-left:20px}ul.ev code{color:var(--muted)}
svg.bar{display:block;min-width:120px;border-radius:3px;background:var(--chip);margin:6px 0}
.p0{fill:#4e79a7;background:#4e79a7}.p1{fill:#f28e2b;background:#f28e2b}.p2{fill:#59a14f;background:#59a14f}.p3{fill:#e15759;background:#e15759}.p4{fill:#76b7b2;background:#76b7b2}.p5{fill:#edc948;background:#edc948}.p6{fill:#b07aa1;background:#b07aa1}.p7{fill:#9c755f;background:#9c755f}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}
footer{color:var(--muted);margin:30px 0 10px;font-size:12px}
button{font:inherit;color:var(--fg);background:var(--panel2);border:1px solid var(--line);border-radius:6px;padding:4px 10px;cursor:pointer}
:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
`;

/** GRID lays the snapshot table out as a grid of blocks, so each off-screen row skips style, layout and paint (content-visibility): 1,000 rows render and filter quickly. */
const GRID = `
[hidden]{display:none!important}
table.snaps{display:block;border:1px solid var(--line);background:var(--panel);--cols:minmax(190px,2fr) minmax(110px,1.2fr) var(--w,) minmax(150px,1.3fr) minmax(100px,1fr) 84px 120px var(--t,)}
table.snaps.where{--w:minmax(120px,1fr)}table.snaps.trend{--t:136px}
table.snaps>thead{display:block;position:sticky;top:0;z-index:1;background:var(--panel2)}
table.snaps>tbody{display:block;content-visibility:auto;contain-intrinsic-size:auto 48px;border-bottom:1px solid var(--line)}
table.snaps tr.row,table.snaps>thead>tr{display:grid;grid-template-columns:var(--cols)}
table.snaps tr.row>td,table.snaps>thead th{display:block;border:0;min-width:0;overflow-wrap:anywhere}
table.snaps>thead th{padding:0}
table.snaps tr.detail{display:block}table.snaps tr.detail>td{display:block;border:0;background:var(--bg);padding:10px 16px;border-top:1px dashed var(--line)}
th .sort{all:unset;box-sizing:border-box;display:block;width:100%;padding:7px 20px 7px 10px;cursor:pointer;font-weight:600;position:relative}
th .sort:focus-visible{outline:2px solid var(--focus);outline-offset:-2px}
th .sort::after{content:"\\2195";position:absolute;right:6px;color:var(--muted)}
th[aria-sort=ascending] .sort::after{content:"\\25B2";color:var(--fg)}th[aria-sort=descending] .sort::after{content:"\\25BC";color:var(--fg)}
tr.row{cursor:pointer}tr.row:hover{background:var(--panel2)}tr.row:focus-visible{outline:2px solid var(--focus);outline-offset:-2px}
tr.row>td:first-child{padding-left:24px;position:relative}
tr.row>td:first-child::before{content:"\\25B8";position:absolute;left:8px;color:var(--muted)}
tr.row[aria-expanded=true]>td:first-child::before{content:"\\25BE"}
tr.row.failed>td:first-child{box-shadow:inset 3px 0 var(--bad)}
`;

const SECTIONS = `
@media screen{main{display:flex;flex-direction:column}main>*{order:5}main>header.top{order:0}main>#changes{order:1}main>#overview{order:2}main>#audit{order:3}}
.block{margin-top:8px}
.chgs{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}
.chg{background:var(--panel);border:1px solid var(--line);border-left-width:4px;border-radius:8px;padding:8px 12px}
.chg h3{margin:2px 0 6px}.chg ul{margin:0;padding-left:18px}.chg .n{color:var(--muted);font-weight:400}
.chg.bad{border-left-color:var(--bad)}.chg.warn{border-left-color:var(--warn)}.chg.unk{border-left-color:var(--unk)}.chg.ok{border-left-color:var(--ok)}.chg.muted{border-left-color:var(--line)}
.audit{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:4px 18px 10px}
.audit dl{display:grid;grid-template-columns:190px 1fr;gap:6px 16px;margin:8px 0}.audit dt{font-weight:600}.audit dd{margin:0}.audit ul{margin:0;padding-left:18px}
.toolbar{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;margin:8px 0}.toolbar label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
.toolbar input,.toolbar select{font:inherit;color:var(--fg);background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:4px 6px;min-width:140px}
.count{margin:4px 0;color:var(--muted)}
${GRID}
code.id{word-break:break-all}
svg.spark{display:block;overflow:visible}svg.spark polyline{fill:none;stroke:var(--spark);stroke-width:1}
svg.spark .ok{fill:var(--ok)}svg.spark .warn{fill:var(--warn)}svg.spark .bad{fill:var(--bad)}svg.spark .unk{fill:var(--unk)}svg.spark .fx{stroke:var(--bad);stroke-width:1.2}
.chg li svg.spark{display:inline-block;vertical-align:middle;margin-left:6px}
.notify li.failed{color:var(--bad)}
`;

const PRINT = `
@page{margin:12mm}
@media print{details::details-content{content-visibility:visible;display:block}}
@media print{
:root,:root[data-theme=dark]{${LIGHT};color-scheme:light}
body{background:#fff;font-size:10pt}main{max-width:none;padding:0}
.noprint,#theme,.toolbar{display:none!important}
.audit{break-after:page;border:0;padding:0;font-size:8.5pt;line-height:1.35}.audit h2{margin:10px 0 4px}
.audit dl{grid-template-columns:110px 1fr;gap:3px 10px;margin:4px 0}.audit p{margin:2px 0}.audit ul.controls{columns:2;column-gap:16px}.audit ul.controls li{break-inside:avoid}
header.top h1{font-size:16pt}header.top .meta{font-size:8.5pt}
h2{break-after:avoid}.chg,.card,tr,li{break-inside:avoid}
table{font-size:8.5pt}thead{display:table-header-group}table.snaps>thead{position:static}
table.snaps>tbody{content-visibility:visible;break-inside:avoid}
table.snaps{font-size:7.5pt;--cols:minmax(0,1.7fr) minmax(0,1.1fr) var(--w,) minmax(0,1.2fr) minmax(0,.8fr) minmax(0,.55fr) minmax(0,.75fr) var(--t,)}table.snaps.where{--w:minmax(0,1.2fr)}
table.snaps .badge{font-size:7pt;padding:0 5px}table.snaps.trend{--t:86px}
table.snaps th .sort{padding:3px 6px}table.snaps>thead th{overflow-wrap:normal}table.snaps code{font-size:7pt}
svg.spark{width:80px;height:auto}
.badge{white-space:normal}
th .sort::after,tr.row>td:first-child::before{content:none!important}tr.row>td:first-child{padding-left:10px}
td,th{padding:3px 6px}code{font-size:8pt;word-break:break-all}
.chgs{display:block}.chg{margin:6px 0}
details{display:block}details>*{display:block}pre,.console{max-height:none;overflow:visible}.chg a{display:none}
a{color:inherit;text-decoration:none}
}
`;

/** STYLE is the page's only style sheet, allowed by its hash in the Content-Security-Policy: there are no style attributes. */
export const STYLE = `${CONSOLE_CSS}${BASE}${GRID}${SECTIONS}${PRINT}`;
