/**
 * The cashier's page: one HTML document, one stylesheet, one script, all served by
 * `server.ts` (no framework, no CDN, no inline script or style: the CSP forbids them).
 * Kept as strings so the bundled CLI carries them. The script uses `textContent` only
 * (never innerHTML with data) and talks to the JSON API + `/api/events` (SSE).
 *
 * Keyboard: the amount field has focus at start; Enter shows the QR; the pay-code field
 * takes focus while an order awaits payment (a keyboard-mode scanner types into it and
 * presses Enter); Esc cancels the sale; N starts a new sale; P prints the receipt.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Merchant terminal - Handset</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="topbar">
  <div class="brand">
    <span class="logo" aria-hidden="true"></span>
    <div>
      <div id="merchant-name" class="merchant-name">Merchant terminal</div>
      <div id="merchant-meta" class="muted small"></div>
    </div>
  </div>
  <div id="live" class="live offline" role="status" aria-live="polite">Connecting</div>
</header>
<main class="layout">
  <section class="panel sale" aria-labelledby="sale-h">
    <h2 id="sale-h">New sale</h2>
    <form id="order-form" autocomplete="off" novalidate>
      <label for="amount">Amount</label>
      <div class="amount-row">
        <input id="amount" name="amount" inputmode="decimal" required placeholder="0.00" aria-describedby="amount-help" autofocus>
        <select id="currency" name="currency" aria-label="Currency"></select>
      </div>
      <p id="amount-help" class="help">Digits and one decimal point.</p>
      <label for="reference">Reference <span class="muted">(optional)</span></label>
      <input id="reference" name="reference" maxlength="25" placeholder="automatic" spellcheck="false">
      <label class="check" for="reserve"><input type="checkbox" id="reserve"> Reserve only, capture later</label>
      <button type="submit" class="primary wide" id="create">Show payment QR <kbd>Enter</kbd></button>
      <p id="form-error" class="error" role="alert"></p>
    </form>
    <h2 id="history-h">Today's orders</h2>
    <div class="history-wrap">
      <table id="history" class="history" aria-labelledby="history-h">
        <thead><tr><th scope="col">Order</th><th scope="col" class="num">Amount</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="history-empty" class="muted small">No orders yet.</p>
    </div>
    <div id="flags" class="flags" hidden>
      <h2>Flagged results</h2>
      <ul id="flag-list" class="reasons"></ul>
    </div>
  </section>

  <section class="panel current" aria-labelledby="cur-h">
    <h2 id="cur-h" class="sr-only">Current order</h2>
    <div id="empty" class="empty">
      <p class="empty-title">Ready for the next sale</p>
      <p class="muted">Type the amount and press <kbd>Enter</kbd>.</p>
    </div>
    <div id="order" hidden>
      <div id="state-banner" class="banner awaiting" role="status" aria-live="assertive">Awaiting payment</div>
      <div class="due" aria-label="Amount due">
        <span class="due-label">Amount due</span>
        <span class="due-value"><span id="due-amount" class="big-amount"></span> <span id="due-currency" class="big-currency"></span></span>
      </div>
      <figure class="qr-wrap" id="qr-wrap">
        <img id="qr" alt="Payment QR code for this order" width="360" height="360">
        <figcaption class="qr-caption"><span id="qr-merchant"></span><span id="qr-amount"></span></figcaption>
      </figure>
      <dl class="meta">
        <div><dt>Reference</dt><dd id="ref"></dd></div>
        <div><dt id="expires-label">Expires in</dt><dd id="expires"></dd></div>
      </dl>
      <form id="paycode-form" autocomplete="off">
        <label for="paycode">Customer's pay code <span class="muted">(scan or type)</span></label>
        <div class="row">
          <input id="paycode" name="paycode" inputmode="numeric" maxlength="40" placeholder="20 digits" spellcheck="false">
          <button type="submit" id="charge">Charge</button>
        </div>
        <p id="paycode-error" class="error" role="alert"></p>
      </form>
      <div class="row actions">
        <button type="button" id="cancel" class="secondary">Cancel sale <kbd>Esc</kbd></button>
        <button type="button" id="new-sale" class="primary" hidden>New sale <kbd>N</kbd></button>
      </div>
    </div>
  </section>

  <section class="panel result" aria-labelledby="cmp-h">
    <h2 id="cmp-h">Amount check</h2>
    <div id="verdict" class="verdict none" role="status" aria-live="assertive"><div id="verdict-main" class="verdict-main">No payment yet</div><div id="verdict-sub" class="verdict-sub" hidden></div></div>
    <table class="cmp" aria-describedby="cmp-h">
      <tbody>
        <tr id="row-due"><th scope="row">Due <span class="muted small">(this till)</span></th><td class="num"></td><td class="mark"></td></tr>
        <tr id="row-authorised"><th scope="row">Authorised <span class="muted small">(payer)</span></th><td class="num"></td><td class="mark"></td></tr>
        <tr id="row-booked"><th scope="row">Booked <span class="muted small">(ledger)</span></th><td class="num"></td><td class="mark"></td></tr>
      </tbody>
    </table>
    <ul id="reasons" class="reasons"></ul>
    <h2>Receipt</h2>
    <pre id="receipt" class="receipt" tabindex="0" aria-label="Receipt text">No receipt yet.</pre>
    <div class="row"><button type="button" id="print" class="secondary" disabled>Print receipt <kbd>P</kbd></button></div>
    <div id="refund-box" hidden>
      <h2>Payment actions</h2>
      <form id="refund-form" autocomplete="off">
        <label for="refund-payment">Payment</label>
        <select id="refund-payment"></select>
        <div id="reserve-actions" class="row" hidden>
          <button type="button" id="capture" class="primary">Capture</button>
          <button type="button" id="void" class="secondary">Void reservation</button>
        </div>
        <div id="refund-fields">
          <label for="refund-amount">Refund amount <span class="muted">(empty = all that is left)</span></label>
          <div class="row">
            <input id="refund-amount" inputmode="decimal" placeholder="all">
            <button type="submit" id="refund" class="warn">Refund</button>
          </div>
        </div>
        <p id="refund-error" class="error" role="alert"></p>
      </form>
    </div>
  </section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `:root {
  --bg: #eef1f5; --panel: #ffffff; --ink: #17202a; --muted: #5b6573; --line: #d5dbe3;
  --accent: #1f5fbf; --accent-ink: #ffffff;
  --paid: #0b7a3b; --paid-bg: #e3f5ea; --rej: #b3261e; --rej-bg: #fdecea;
  --wait: #8a5a00; --wait-bg: #fff4d6; --closed: #4b5563; --closed-bg: #eceff3;
  --refund: #5b3cc4; --refund-bg: #efeafd;
  font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.muted { color: var(--muted); font-weight: normal; }
.small { font-size: 0.85rem; }
kbd { font: 0.75rem "DejaVu Sans Mono", monospace; border: 1px solid currentColor; border-radius: 4px; padding: 0 4px; opacity: 0.75; margin-left: 6px; }
.topbar { display: flex; justify-content: space-between; align-items: center; padding: 12px 24px; background: #16263d; color: #fff; }
.brand { display: flex; gap: 14px; align-items: center; }
.logo { width: 34px; height: 34px; border-radius: 8px; background: linear-gradient(135deg, #4d8df7, #1f5fbf); box-shadow: inset 0 0 0 3px rgba(255,255,255,0.25); }
.merchant-name { font-size: 1.3rem; font-weight: bold; }
.topbar .muted { color: #b8c4d6; }
.live { font-size: 0.9rem; padding: 6px 12px; border-radius: 999px; font-weight: bold; }
.live::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 8px; vertical-align: 1px; background: currentColor; }
.live.online { background: #1d4d2f; color: #7ee2a2; }
.live.offline { background: #5c1f1b; color: #ffb4ab; }
.layout { display: grid; grid-template-columns: minmax(280px, 330px) minmax(420px, 1fr) minmax(340px, 400px); gap: 18px; padding: 18px 24px; align-items: start; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 18px 20px; }
h2 { font-size: 0.85rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 18px 0 10px; }
.panel > h2:first-child, .panel > div > h2:first-child { margin-top: 0; }
label { display: block; font-weight: bold; margin: 12px 0 6px; }
label.check { display: flex; gap: 8px; align-items: center; font-weight: normal; }
label.check input { width: auto; }
input, select, button { font: inherit; }
input, select { border: 2px solid var(--line); border-radius: 8px; padding: 10px 12px; width: 100%; background: #fff; color: var(--ink); }
input:focus, select:focus, button:focus-visible, pre:focus { outline: 3px solid #8ab4f8; outline-offset: 1px; border-color: var(--accent); }
.amount-row { display: flex; gap: 8px; }
#amount { font-size: 2rem; font-weight: bold; text-align: right; font-variant-numeric: tabular-nums; }
#currency { width: 100px; font-size: 1.1rem; font-weight: bold; }
.help { margin: 6px 0 0; color: var(--muted); font-size: 0.85rem; }
button { border: 2px solid transparent; border-radius: 8px; padding: 10px 16px; cursor: pointer; font-weight: bold; background: #e4e9f0; color: var(--ink); }
button:disabled { opacity: 0.45; cursor: not-allowed; }
button.primary { background: var(--accent); color: var(--accent-ink); }
button.secondary { background: #fff; border-color: var(--line); }
button.warn { background: var(--refund); color: #fff; }
button.wide { width: 100%; margin-top: 16px; padding: 14px; font-size: 1.1rem; }
.row { display: flex; gap: 8px; align-items: center; margin-top: 10px; }
.row input { flex: 1; }
.error { color: var(--rej); font-weight: bold; min-height: 1.2em; margin: 8px 0 0; }
.history-wrap { max-height: 360px; overflow: auto; }
table { border-collapse: collapse; width: 100%; }
.history th, .history td { text-align: left; padding: 7px 6px; border-bottom: 1px solid var(--line); font-size: 0.88rem; vertical-align: top; }
.history th.num, .history td.num { text-align: right; }
.h-ref { font: 0.78rem "DejaVu Sans Mono", monospace; white-space: nowrap; }
.h-amount { font-weight: bold; margin-bottom: 3px; }
.history tbody tr { cursor: pointer; }
.history tbody tr:hover { background: #f3f6fa; }
.history tbody tr.selected { background: #e3ecfb; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chip { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: 0.75rem; font-weight: bold; text-transform: uppercase; letter-spacing: 0.03em; }
.s-awaiting_payment, .s-created { background: var(--wait-bg); color: var(--wait); }
.s-paid { background: var(--paid-bg); color: var(--paid); }
.s-rejected { background: var(--rej-bg); color: var(--rej); }
.s-expired, .s-cancelled { background: var(--closed-bg); color: var(--closed); }
.s-refunded, .s-partially_refunded, .s-voided { background: var(--refund-bg); color: var(--refund); }
.current { text-align: center; min-height: 640px; }
.empty { padding: 160px 20px; }
.empty-title { font-size: 1.6rem; font-weight: bold; margin: 0 0 8px; }
.banner { font-size: 1.5rem; font-weight: bold; letter-spacing: 0.04em; text-transform: uppercase; padding: 14px; border-radius: 10px; border: 2px solid currentColor; }
.banner.awaiting { background: var(--wait-bg); color: var(--wait); }
.banner.paid { background: var(--paid-bg); color: var(--paid); }
.banner.rejected { background: var(--rej-bg); color: var(--rej); }
.banner.closed { background: var(--closed-bg); color: var(--closed); }
.banner.refund { background: var(--refund-bg); color: var(--refund); }
.due { margin: 18px 0 8px; }
.due-label { display: block; color: var(--muted); font-weight: bold; text-transform: uppercase; letter-spacing: 0.06em; font-size: 0.85rem; }
.big-amount { font-size: 4.2rem; font-weight: bold; font-variant-numeric: tabular-nums; letter-spacing: -0.01em; }
.big-currency { font-size: 2rem; font-weight: bold; color: var(--muted); }
.qr-wrap { margin: 8px auto; display: inline-block; padding: 14px 14px 10px; border: 1px solid var(--line); border-radius: 12px; background: #fff; }
.qr-wrap img { display: block; width: 360px; height: 360px; image-rendering: pixelated; }
.qr-wrap { position: relative; }
.qr-wrap.dim img { opacity: 0.12; }
.qr-wrap[data-stamp]::after { content: attr(data-stamp); position: absolute; left: 50%; top: 44%; transform: translate(-50%, -50%) rotate(-12deg);
  font-size: 2.5rem; font-weight: bold; text-transform: uppercase; letter-spacing: 0.08em; padding: 6px 20px; border: 5px solid currentColor; border-radius: 12px; background: rgba(255,255,255,0.85); }
.qr-wrap[data-tone="paid"]::after { color: var(--paid); }
.qr-wrap[data-tone="rejected"]::after { color: var(--rej); }
.qr-wrap[data-tone="closed"]::after { color: var(--closed); }
.qr-wrap[data-tone="refund"]::after { color: var(--refund); }
.qr-caption { display: flex; justify-content: space-between; gap: 12px; font-weight: bold; padding-top: 6px; }
.meta { display: flex; justify-content: center; gap: 40px; margin: 10px 0; }
.meta div { text-align: center; }
.meta dt { color: var(--muted); font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.05em; }
.meta dd { margin: 2px 0 0; font: bold 1.05rem "DejaVu Sans Mono", monospace; }
#paycode-form { max-width: 520px; margin: 12px auto 0; text-align: left; }
#paycode { font: 1.2rem "DejaVu Sans Mono", monospace; letter-spacing: 0.05em; }
.actions { justify-content: center; }
.verdict { text-align: center; padding: 14px 16px; border-radius: 10px; border: 2px solid currentColor; }
.verdict-main { font-size: 1.8rem; font-weight: bold; text-transform: uppercase; letter-spacing: 0.04em; }
.verdict-sub { font-size: 1rem; font-weight: bold; margin-top: 4px; }
.verdict.none { color: var(--muted); background: #f4f6f9; border-style: dashed; }
.verdict.none .verdict-main { font-size: 1.1rem; }
.verdict.paid { color: var(--paid); background: var(--paid-bg); }
.verdict.rejected { color: var(--rej); background: var(--rej-bg); }
.verdict.declined { color: var(--wait); background: var(--wait-bg); }
.cmp { margin-top: 12px; }
.cmp th, .cmp td { padding: 10px 6px; border-bottom: 1px solid var(--line); text-align: left; }
.cmp td.num { font-size: 1.2rem; font-weight: bold; }
.cmp td.mark { width: 34px; text-align: center; font-weight: bold; font-size: 1.2rem; }
.cmp tr.ok td.mark { color: var(--paid); }
.cmp tr.bad td { color: var(--rej); }
.cmp tr.bad { background: var(--rej-bg); }
.reasons { list-style: none; padding: 0; margin: 10px 0 0; }
.reasons li { background: var(--rej-bg); color: var(--rej); border-left: 4px solid var(--rej); padding: 8px 10px; margin-bottom: 6px; border-radius: 4px; font-size: 0.92rem; }
.reasons li.info { background: var(--wait-bg); color: var(--wait); border-left-color: var(--wait); }
.reasons li code { font-weight: bold; }
.receipt { font: 0.8rem/1.35 "DejaVu Sans Mono", monospace; background: #fbfbf7; border: 1px dashed #c7c2ad; padding: 12px; border-radius: 6px; overflow-x: auto; white-space: pre; margin: 0; max-height: 380px; }
.flags { margin-top: 8px; }
#refund-box h2 { margin-top: 22px; }
@media (max-width: 1180px) { .layout { grid-template-columns: 300px 1fr; } .result { grid-column: 1 / -1; } }
@media (max-width: 760px) { .layout { grid-template-columns: 1fr; } .current { min-height: 0; } .empty { padding: 40px 20px; } }
@media (max-height: 880px) {
  .topbar { padding: 8px 24px; }
  .layout { padding-top: 12px; gap: 14px; }
  .panel { padding: 14px 18px; }
  .banner { font-size: 1.25rem; padding: 8px; }
  .due { margin: 8px 0 4px; }
  .big-amount { font-size: 3.2rem; }
  .big-currency { font-size: 1.6rem; }
  .qr-wrap { padding: 10px 10px 6px; }
  .qr-wrap img { width: 290px; height: 290px; }
  .meta { margin: 6px 0; }
  #paycode-form { margin-top: 6px; }
  .current { min-height: 0; }
}
@media print {
  body { background: #fff; }
  .topbar, .sale, .current, #cmp-h, .verdict, .cmp, .reasons, .result h2, .row, #refund-box { display: none !important; }
  .layout { display: block; padding: 0; }
  .panel { border: 0; padding: 0; }
  .receipt { border: 0; max-height: none; font-size: 10pt; }
}
`;

export const PAGE_JS = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var orders = {};
  var order_keys = [];
  var selected = null;
  var config = null;
  var flags = [];

  var STATE_TEXT = {
    created: 'Creating', awaiting_payment: 'Awaiting payment', paid: 'Paid', rejected: 'Rejected - not paid',
    expired: 'Expired - not paid', cancelled: 'Cancelled', voided: 'Voided', partially_refunded: 'Paid - partly refunded',
    refunded: 'Refunded'
  };
  var SHORT_STATE = {
    created: 'new', awaiting_payment: 'waiting', paid: 'paid', rejected: 'rejected', expired: 'expired',
    cancelled: 'cancelled', voided: 'voided', partially_refunded: 'part refund', refunded: 'refunded'
  };
  var REASON_TEXT = {
    UNDERPAID: 'Underpaid', OVERPAID: 'Overpaid', WRONG_CURRENCY: 'Wrong currency', MISSING_AUTHORISED: 'No authorised amount',
    MISSING_BOOKED: 'Nothing booked', INVALID_AMOUNT: 'Invalid amount', DUPLICATE_RESULT: 'Duplicate result',
    LATE_RESULT: 'Late result', UNKNOWN_ORDER: 'Unknown order', WRONG_MERCHANT: 'Wrong merchant', DECLINED: 'Declined'
  };

  function text(el, s) { el.textContent = s == null ? '' : String(s); }
  function show(el, on) { el.hidden = !on; }
  function api(method, path, body) {
    var init = { method: method, headers: {} };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) { var e = new Error(data && data.error ? data.error.message : res.statusText); e.code = data && data.error ? data.error.code : 'HTTP_' + res.status; throw e; }
        return data;
      });
    });
  }
  function errText(e) { return (e.code ? e.code + ': ' : '') + e.message; }
  function majorOnly(a) { return a ? a.display.replace(/ [A-Z]{3}( \\(minor\\))?$/, '') : '-'; }
  function hhmm(ms) { var d = new Date(ms); return ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2) + ':' + ('0' + d.getSeconds()).slice(-2); }

  function upsert(o) {
    if (!orders[o.reference]) order_keys.unshift(o.reference);
    orders[o.reference] = o;
  }

  function bannerClass(state) {
    if (state === 'paid') return 'paid';
    if (state === 'rejected') return 'rejected';
    if (state === 'awaiting_payment' || state === 'created') return 'awaiting';
    if (state === 'refunded' || state === 'partially_refunded' || state === 'voided') return 'refund';
    return 'closed';
  }

  function renderHistory() {
    var tbody = $('history').tBodies[0];
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    order_keys.forEach(function (ref) {
      var o = orders[ref];
      var tr = document.createElement('tr');
      tr.tabIndex = 0;
      tr.setAttribute('data-ref', ref);
      if (ref === selected) tr.className = 'selected';
      var td = document.createElement('td');
      var r = document.createElement('div'); r.className = 'h-ref'; text(r, ref);
      var t = document.createElement('div'); t.className = 'muted small'; text(t, hhmm(o.createdAt));
      td.appendChild(r); td.appendChild(t); tr.appendChild(td);
      td = document.createElement('td'); td.className = 'num';
      var amt = document.createElement('div'); amt.className = 'h-amount'; text(amt, o.due.display);
      var chip = document.createElement('span'); chip.className = 'chip s-' + o.state; text(chip, SHORT_STATE[o.state] || o.state);
      td.appendChild(amt); td.appendChild(chip); tr.appendChild(td);
      tr.addEventListener('click', function () { select(ref); });
      tr.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') select(ref); });
      tbody.appendChild(tr);
    });
    show($('history-empty'), order_keys.length === 0);
  }

  function verdict(main, sub) {
    text($('verdict-main'), main);
    text($('verdict-sub'), sub);
    show($('verdict-sub'), !!sub);
  }

  function renderComparison(o) {
    var c = o ? o.comparison : null;
    var v = $('verdict');
    var rows = { due: $('row-due'), authorised: $('row-authorised'), booked: $('row-booked') };
    var bad = {};
    var list = $('reasons');
    while (list.firstChild) list.removeChild(list.firstChild);
    if (c) c.reasons.forEach(function (r) {
      if (r.field) bad[r.field] = true;
      var li = document.createElement('li');
      if (r.code === 'DECLINED') li.className = 'info';
      var code = document.createElement('code'); text(code, REASON_TEXT[r.code] || r.code);
      li.appendChild(code); li.appendChild(document.createTextNode(' - ' + r.message));
      list.appendChild(li);
    });
    ['due', 'authorised', 'booked'].forEach(function (k) {
      var a = k === 'due' ? (o ? o.due : null) : (c ? c[k] : null);
      var tr = rows[k];
      text(tr.cells[1], a ? a.display : '-');
      var mark = '';
      tr.className = '';
      if (c && k !== 'due') {
        if (bad[k] || !a) { tr.className = 'bad'; mark = '\\u2717'; } else { tr.className = 'ok'; mark = '\\u2713'; }
      }
      text(tr.cells[2], mark);
      tr.cells[2].setAttribute('aria-label', mark === '\\u2713' ? 'matches' : mark ? 'does not match' : '');
    });
    if (!c) { v.className = 'verdict none'; verdict(o && o.state === 'awaiting_payment' ? 'Waiting for payment' : 'No payment yet', ''); return; }
    var declined = c.reasons.length > 0 && c.reasons.every(function (r) { return r.code === 'DECLINED'; });
    if (c.verdict === 'PAID' && o.settledBy) { v.className = 'verdict paid'; verdict('\\u2713 Paid', 'due = authorised = booked'); }
    else if (declined && o.state === 'awaiting_payment') { v.className = 'verdict declined'; verdict('Declined', 'nothing booked - ask to pay again'); }
    else {
      var labels = [];
      c.reasons.forEach(function (r) { var l = REASON_TEXT[r.code] || r.code; if (labels.indexOf(l) < 0) labels.push(l); });
      v.className = 'verdict rejected'; verdict('\\u2717 Rejected', labels.join(', ').toLowerCase());
    }
  }

  function actionsFor(ref, id) {
    var o = orders[ref];
    var p = o ? o.payments.filter(function (x) { return x.paymentId === id; })[0] : null;
    show($('reserve-actions'), !!p && (p.capturable || p.voidable));
    show($('capture'), !!p && p.capturable);
    show($('refund-fields'), !!p && !!p.refundable);
  }

  function renderRefund(o) {
    var sel = $('refund-payment');
    var keep = sel.value;
    while (sel.firstChild) sel.removeChild(sel.firstChild);
    var payable = o ? o.payments.filter(function (p) { return p.refundable || p.voidable || p.capturable; }) : [];
    payable.forEach(function (p) {
      var opt = document.createElement('option');
      opt.value = p.paymentId;
      var what = p.refundable ? p.refundable.display + ' refundable' : 'reserved, not captured';
      text(opt, p.paymentId.slice(0, 8) + '... ' + what + (p.comparison && p.comparison.flagged ? ' (flagged)' : ''));
      if (p.paymentId === keep) opt.selected = true;
      sel.appendChild(opt);
    });
    show($('refund-box'), payable.length > 0);
    if (o) actionsFor(o.reference, sel.value);
  }

  function loadReceipt(o) {
    if (!o) { text($('receipt'), 'No receipt yet.'); $('print').disabled = true; return; }
    api('GET', '/api/orders/' + encodeURIComponent(o.reference) + '/receipt').then(function (r) {
      if (selected === o.reference) { text($('receipt'), r.text); $('print').disabled = false; }
    }).catch(function () {});
  }

  function renderCurrent() {
    var o = selected ? orders[selected] : null;
    show($('empty'), !o);
    show($('order'), !!o);
    renderComparison(o);
    renderRefund(o);
    loadReceipt(o);
    if (!o) return;
    var b = $('state-banner');
    b.className = 'banner ' + bannerClass(o.state);
    var reserved = o.capture === 'manual' && o.state === 'paid' && o.payments.some(function (p) { return p.paymentId === o.settledBy && !p.captured; });
    text(b, reserved ? 'Paid - reserved, capture pending' : STATE_TEXT[o.state] || o.state);
    text($('due-amount'), majorOnly(o.due));
    text($('due-currency'), o.due.currency);
    var qr = $('qr');
    if (qr.getAttribute('data-ref') !== o.reference) { qr.src = o.qrUrl; qr.setAttribute('data-ref', o.reference); }
    $('qr-wrap').className = 'qr-wrap' + (o.state === 'awaiting_payment' ? '' : ' dim');
    if (o.state === 'awaiting_payment') $('qr-wrap').removeAttribute('data-stamp');
    else $('qr-wrap').setAttribute('data-stamp', SHORT_STATE[o.state] || o.state);
    $('qr-wrap').setAttribute('data-tone', bannerClass(o.state));
    qr.alt = 'Payment QR code: ' + o.due.display + ' to ' + config.merchant.name + ', order ' + o.reference;
    text($('qr-merchant'), config.merchant.name);
    text($('qr-amount'), o.due.display);
    text($('ref'), o.reference);
    var waiting = o.state === 'awaiting_payment';
    show($('paycode-form'), waiting);
    show($('cancel'), waiting);
    show($('new-sale'), !waiting);
    tick();
  }

  function tick() {
    var o = selected ? orders[selected] : null;
    if (!o) return;
    if (o.state === 'awaiting_payment') {
      var s = Math.max(0, Math.round((o.expiresAt - Date.now()) / 1000));
      text($('expires-label'), 'Expires in');
      text($('expires'), Math.floor(s / 60) + ':' + ('0' + (s % 60)).slice(-2));
    } else {
      text($('expires-label'), 'Closed');
      text($('expires'), o.closedAt ? hhmm(o.closedAt) : (o.payments.length ? hhmm(o.payments[o.payments.length - 1].receivedAt) : '-'));
    }
  }

  function select(ref) {
    selected = ref;
    renderHistory();
    renderCurrent();
  }

  function newSale() {
    selected = null;
    renderHistory();
    renderCurrent();
    $('amount').value = '';
    $('amount').focus();
  }

  function onOrder(o) {
    var wasSelected = o.reference === selected;
    upsert(o);
    renderHistory();
    if (wasSelected) {
      renderCurrent();
      if (o.state !== 'awaiting_payment' && document.activeElement === $('paycode')) $('new-sale').focus();
    }
  }

  function connect() {
    var es = new EventSource('/api/events');
    es.addEventListener('open', function () { var l = $('live'); l.className = 'live online'; text(l, 'Live'); });
    es.addEventListener('error', function () { var l = $('live'); l.className = 'live offline'; text(l, 'Offline - reconnecting'); });
    es.addEventListener('order', function (ev) { onOrder(JSON.parse(ev.data)); });
    es.addEventListener('unknown', function (ev) {
      var f = JSON.parse(ev.data);
      flags.unshift(f);
      var li = document.createElement('li');
      text(li, 'Unknown order ' + f.orderReference + ': payment ' + f.paymentId.slice(0, 8) + '... ' + (f.comparison.booked ? f.comparison.booked.display : 'nothing') + ' booked');
      $('flag-list').insertBefore(li, $('flag-list').firstChild);
      show($('flags'), true);
    });
  }

  function init(cfg) {
    config = cfg;
    text($('merchant-name'), cfg.merchant.name);
    text($('merchant-meta'), cfg.merchant.city + ' \\u00b7 ' + cfg.merchant.id + (cfg.merchant.terminalLabel ? ' \\u00b7 till ' + cfg.merchant.terminalLabel : ''));
    var sel = $('currency');
    cfg.currencies.forEach(function (c) {
      var opt = document.createElement('option'); opt.value = c.alpha; text(opt, c.alpha); opt.title = c.name;
      if (c.alpha === cfg.defaultCurrency) opt.selected = true;
      sel.appendChild(opt);
    });
    api('GET', '/api/orders').then(function (list) {
      list.slice().reverse().forEach(upsert);
      renderHistory();
    });
    connect();
    setInterval(tick, 1000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('order-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      text($('form-error'), '');
      var amount = $('amount').value.trim();
      if (!/^[0-9]+([.][0-9]*)?$/.test(amount)) { text($('form-error'), 'Enter the amount as digits with one decimal point, e.g. 12.50'); $('amount').focus(); return; }
      $('create').disabled = true;
      api('POST', '/api/orders', { amount: amount, currency: $('currency').value, reference: $('reference').value.trim() || undefined, capture: $('reserve').checked ? 'manual' : 'auto' })
        .then(function (o) { upsert(o); $('reference').value = ''; $('amount').value = ''; select(o.reference); $('paycode').value = ''; $('paycode').focus(); })
        .catch(function (e) { text($('form-error'), errText(e)); $('amount').focus(); })
        .then(function () { $('create').disabled = false; });
    });
    $('paycode-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var ref = selected; var code = $('paycode').value;
      text($('paycode-error'), '');
      if (!ref) return;
      $('charge').disabled = true;
      api('POST', '/api/orders/' + encodeURIComponent(ref) + '/paycode', { code: code })
        .then(function (o) { onOrder(o); $('paycode').value = ''; })
        .catch(function (e) { text($('paycode-error'), errText(e)); $('paycode').select(); })
        .then(function () { $('charge').disabled = false; });
    });
    $('cancel').addEventListener('click', function () {
      if (!selected) return;
      api('POST', '/api/orders/' + encodeURIComponent(selected) + '/cancel', {}).then(onOrder).catch(function (e) { text($('paycode-error'), errText(e)); });
    });
    $('new-sale').addEventListener('click', newSale);
    $('print').addEventListener('click', function () { window.print(); });
    $('refund-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      text($('refund-error'), '');
      var amount = $('refund-amount').value.trim();
      api('POST', '/api/orders/' + encodeURIComponent(selected) + '/refund', { paymentId: $('refund-payment').value, amount: amount || undefined })
        .then(function (o) { onOrder(o); $('refund-amount').value = ''; })
        .catch(function (e) { text($('refund-error'), errText(e)); });
    });
    $('refund-payment').addEventListener('change', function () { if (selected) actionsFor(selected, $('refund-payment').value); });
    $('capture').addEventListener('click', function () {
      text($('refund-error'), '');
      api('POST', '/api/orders/' + encodeURIComponent(selected) + '/capture', { paymentId: $('refund-payment').value })
        .then(onOrder).catch(function (e) { text($('refund-error'), errText(e)); });
    });
    $('void').addEventListener('click', function () {
      text($('refund-error'), '');
      api('POST', '/api/orders/' + encodeURIComponent(selected) + '/void', { paymentId: $('refund-payment').value })
        .then(onOrder).catch(function (e) { text($('refund-error'), errText(e)); });
    });
    document.addEventListener('keydown', function (ev) {
      var typing = ev.target && (ev.target.tagName === 'INPUT' || ev.target.tagName === 'SELECT');
      var o = selected ? orders[selected] : null;
      if (ev.key === 'Escape' && o && o.state === 'awaiting_payment') { ev.preventDefault(); $('cancel').click(); return; }
      if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === 'n' || ev.key === 'N') { ev.preventDefault(); newSale(); }
      if ((ev.key === 'p' || ev.key === 'P') && !$('print').disabled) { ev.preventDefault(); window.print(); }
    });
    api('GET', '/api/config').then(init).catch(function (e) { text($('form-error'), 'Cannot reach the terminal: ' + errText(e)); });
  });
})();
`;
