/** The HTML report: one self-contained page, rendered by the modules under html/. */
export { esc } from './html/common.js';
export { CSP, cspHash, renderHtml } from './html/page.js';
export { SCRIPT } from './html/script.js';
export { STYLE } from './html/style.js';
