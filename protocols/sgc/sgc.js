/*
 * sgc.js: a browser (and node) client for the default sgc protocol (subprotocol `esegece.com`,
 * spec/sgc-protocols.md section 2), as served by the switchboard daemon at /sgc.js.
 * One file, no dependencies, no build step, plain ES2017. Load it with
 *   <script src="/sgc.js"></script>                  (defines the global `sgcws`)
 * or in node
 *   const sgcws = require('./sgc.js');
 *   const c = new sgcws('ws://127.0.0.1:8080/sgc', { WebSocket: require('ws') });
 *
 * The methods and events of the original JS client (esegece.com.js), plus QoS 1/2 with retries,
 * automatic reconnect with backoff, and resubscribe with recovery of missed events.
 *
 *   const c = new sgcws(url, options);    // connects at once; options below
 *   c.on('sgcevent', (e) => show(e.channel, e.message));
 *   c.subscribe('news');                  // remembered: sent again after every reconnect
 *   c.queuelevel2(); c.publish({ text: 'hi' }, 'news');
 *   c.call('sum', [1, 2]).then((r) => ...);          // promise form of rpc()
 *
 * Methods (names as in the original; every id is a GUID string unless given):
 *   send(message[, {qos}])               sgc@message to the server (OnMessage); returns the id
 *   publish(message, channel[, {qos, queue}])  sgc@publish; returns the id
 *   broadcast(message[, channel[, {qos}]])     sgc@broadcast; returns the id
 *   subscribe(channel[, {since}])        sgc@subscribe; a comma list subscribes to each name.
 *                                        `since` asks for the events after that sequence.
 *                                        Returns the id (an array for a list; undefined while
 *                                        not connected: subscriptions are sent on open)
 *   unsubscribe(channel), unsubscribeall()
 *   rpc(id, method[, params])            a JSON-RPC request (an empty id gets a GUID); the
 *                                        answer fires sgcrpcresult or sgcrpcerror. Returns the id
 *   call(method[, params[, {timeout}]])  the same as a Promise: resolves with the result,
 *                                        rejects with an Error carrying code, data (and on close
 *                                        or after `timeout` ms, default options.callTimeout)
 *   notify(method[, params])             a JSON-RPC notification (no id, no answer)
 *   getsession()                         asks for sgc@session again
 *   starttransaction([channel]), commit([channel]), rollback([channel])   channel defaults to ""
 *   qoslevel0(), qoslevel1(), qoslevel2()      QoS of later send/publish/broadcast
 *   queuelevel0(), queuelevel1(), queuelevel2() server queue of later publishes
 *                                        (1: last value, 2: history replayed to late joiners)
 *   pubrel(id)                           QoS 2 release (sent automatically unless autoPubrel:false)
 *   close([code[, reason]])              closes for good: no reconnect, pending QoS dropped
 *   state()                              'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed'
 *   on(type, fn), off(type, fn), once(type, fn), addEventListener, removeEventListener;
 *   or a property: c.onsgcevent = fn. Listeners get one plain object (with `type`).
 * Properties: url, target (the URL of the current or last attempt: a node's, with a
 * balancer), node (the balancer's id of that node), session (the server's GUID for this connection, from sgc@session), socket
 * (the current WebSocket, or null), pending (ids of QoS messages not yet acknowledged).
 *
 * Payloads: a string travels as a JSON string; any other value (object, array, number...) as
 * that JSON value, and comes back in events as the parsed value. rpc() params given as a string
 * that holds a JSON object or array are sent as that value (as the original does), any other
 * string as a string.
 *
 * Events (original names first):
 *   sgcsession        {guid}
 *   sgcevent          {channel, message, sequence}    (sequence: switchboard extension)
 *   sgcmessage        {channel, message}    a broadcast, or the server's write to this client
 *   sgcsubscribe      {channel, id, sequence, recovered, resubscribed}
 *   sgcunsubscribe    {channel, id}
 *   sgcacknowledgment {id}
 *   sgcpubrec         {id}
 *   sgcrpcresult      {id, result, method}
 *   sgcrpcerror       {id, code, message, data, method}
 *   sgcrecovery       {channel, since, sequence, recovered}   after a resubscribe that asked
 *                     for `since`: recovered false means some events after `since` are lost
 *   open {reconnected}, close {code, reason, wasClean, willReconnect},
 *   reconnecting {attempt, delay}, error {error}, message {data} (every raw text received),
 *   sgcprotocol {protocol} (the raw answer to sgc@protocol)
 *
 * Options (defaults):
 *   WebSocket: the global WebSocket        the constructor to use (node: require('ws'))
 *   protocol: 'esegece.com'                the subprotocol offered
 *   qos: 0, queue: 0                       initial levels (as qoslevelN/queuelevelN)
 *   qosInterval: 1000                      ms between checks of unacknowledged QoS 1/2 messages
 *   qosTimeout: 5000                       ms without an answer before a message is sent again
 *   autoPubrel: true                       answer sgc@pubrec with sgc@pubrel
 *   reconnect: true                        reconnect after a close we did not ask for
 *   reconnectDelay: 500, reconnectMaxDelay: 15000, reconnectFactor: 2
 *                                          backoff: delay * factor^(attempt-1), capped, +-20 %
 *   maxReconnectAttempts: 0                0 = unlimited
 *   recovery: true                         send `since` in subscribes (see below)
 *   ackServerMessages: false               acknowledge session, RPC results and errors that
 *                                          carry an id, as the Delphi client does
 *   maxQueued: 1000                        QoS 0 messages kept while not connected (oldest
 *                                          dropped first)
 *   callTimeout: 30000                     default timeout of call(), ms
 *   balancer: null                         a load balancer, 'http://host:port' (the daemon's
 *                                          --role balancer): before every connect and reconnect
 *                                          the client asks GET <balancer>/lb/node and connects to
 *                                          the node it names, with the path and query of `url`
 *   fallbackUrls: []                       full ws:// URLs tried in turn (round robin) when the
 *                                          balancer does not answer; with none, `url` itself
 *   balancerTimeout: 2000                  ms to wait for the balancer
 *   fetch: null                            the fetch function to use (default: the global one)
 *
 * QoS. Level 1: the message carries an id and is kept until the server's sgc@acknowledgment;
 * every qosInterval, a message unanswered for qosTimeout is sent again (also right after a
 * reconnect). Level 2: the same, and the server answers sgc@pubrec: the client then sends
 * sgc@pubrel (kept and re-sent the same way) until the acknowledgment. The switchboard server
 * remembers completed ids, so a re-send is processed once. QoS 0 messages sent while
 * disconnected wait in a bounded queue and go out after the subscriptions on reconnect.
 *
 * Reconnect and recovery. Subscriptions are remembered by name and sent again on every open.
 * With recovery on, each subscribe to a name (not a pattern with * or ?) carries params.since:
 * 0 the first time, then the last sequence this client saw on that channel. The switchboard
 * server (protocols/sgc/README.md, "Extension: recovery since a sequence") answers with the
 * channel's sequence and `recovered`, and replays the stored events after `since`; events this
 * client has already seen (sequence not above the last one) are dropped, so each is delivered
 * once. recovered:false (history trimmed, published below queue level 2, or the channel created
 * again, e.g. after a server restart) fires sgcrecovery with recovered false: the application
 * has a gap. A server without the extension ignores `since`. Open transactions are not
 * restored: the server rolls them back on disconnect. RPCs in flight are not re-sent: call()
 * rejects on close.
 */
(function (root, factory) {
  'use strict';
  const sgcws = factory();
  if (typeof module === 'object' && module && module.exports) module.exports = sgcws;
  else if (root) root.sgcws = sgcws;
})(typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const QOS = ['qosLevel0', 'qosLevel1', 'qosLevel2'];
  const QUEUE = ['queueLevel0', 'queueLevel1', 'queueLevel2'];
  const OPEN = 1;

  const DEFAULTS = {
    WebSocket: null,
    protocol: 'esegece.com',
    qos: 0,
    queue: 0,
    qosInterval: 1000,
    qosTimeout: 5000,
    autoPubrel: true,
    reconnect: true,
    reconnectDelay: 500,
    reconnectMaxDelay: 15000,
    reconnectFactor: 2,
    maxReconnectAttempts: 0,
    recovery: true,
    ackServerMessages: false,
    maxQueued: 1000,
    callTimeout: 30000,
    balancer: null,
    fallbackUrls: [],
    balancerTimeout: 2000,
    fetch: null,
  };

  // The path and query of a WebSocket URL ("/sgc?x=1"): what a balancer's node URL is joined to.
  function routeOf(url) {
    const u = new URL(url);
    return (u.pathname || '/') + u.search;
  }

  // A version 4 GUID, upper-case 8-4-4-4-12 like the server's session ids. crypto.getRandomValues
  // works on plain http:// pages too (crypto.randomUUID needs a secure context).
  function guid() {
    const b = new Uint8Array(16);
    const c = typeof crypto !== 'undefined' ? crypto : null;
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = '';
    for (let i = 0; i < 16; i++) h += (b[i] + 0x100).toString(16).slice(1);
    h = h.toUpperCase();
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function level(value, fallback) {
    if (value === undefined || value === null) return fallback;
    const n = Number(value);
    if (n === 0 || n === 1 || n === 2) return n;
    throw new RangeError('sgcws: level must be 0, 1 or 2');
  }

  // Application value to JSON value: strings stay strings, undefined becomes "".
  function payload(value) {
    return value === undefined ? '' : value;
  }

  // rpc()/notify() params: a string holding a JSON object or array is sent as that value.
  function rpcParams(params) {
    if (typeof params !== 'string') return params;
    const t = params.trim();
    if (t[0] === '{' || t[0] === '[') {
      try {
        return JSON.parse(t);
      } catch (e) {
        /* not JSON: a string */
      }
    }
    return params;
  }

  function isPattern(name) {
    return name.indexOf('*') >= 0 || name.indexOf('?') >= 0;
  }

  function names(channel) {
    return String(channel === undefined || channel === null ? '' : channel)
      .split(',')
      .map((s) => s.trim())
      .filter((s, i, all) => s !== '' || all.length === 1);
  }

  function rethrowLater(e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }

  class sgcws {
    constructor(url, options) {
      this.url = url;
      this.target = url;
      this.node = null;
      this._fallback = 0; // next of options.fallbackUrls
      this.options = Object.assign({}, DEFAULTS, options || {});
      this.session = null;
      this.socket = null;
      this._qos = level(this.options.qos, 0);
      this._queue = level(this.options.queue, 0);
      this._listeners = new Map(); // type -> [fn]
      this._state = 'connecting';
      this._stopped = false; // close() was called
      this._opens = 0;
      this._attempt = 0;
      this._reconnectTimer = null;
      this._qosTimer = null;
      this._subs = new Map(); // name -> {pattern, confirmed, since}
      this._seq = new Map(); // channel -> last sequence delivered (duplicates at or below it dropped)
      this._floor = new Map(); // channel -> sequence known to be covered (from confirmations)
      this._pendingSubs = new Map(); // subscribe id -> {name, since, report, resubscribed}
      this._inflight = new Map(); // QoS 1/2 id -> {text, qos, stage, sentAt}
      this._outbox = []; // QoS 0 texts waiting for a connection
      this._rpcs = new Map(); // rpc id -> method
      this._calls = new Map(); // call() id -> {resolve, reject, timer}
      this._connect();
    }

    // --- events ----------------------------------------------------------------------------
    on(type, fn) {
      if (typeof fn !== 'function') return this;
      if (!this._listeners.has(type)) this._listeners.set(type, []);
      this._listeners.get(type).push(fn);
      return this;
    }
    off(type, fn) {
      const list = this._listeners.get(type);
      if (list) {
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      }
      return this;
    }
    once(type, fn) {
      const wrapper = (e) => {
        this.off(type, wrapper);
        fn.call(this, e);
      };
      return this.on(type, wrapper);
    }
    addEventListener(type, fn) {
      return this.on(type, fn);
    }
    removeEventListener(type, fn) {
      return this.off(type, fn);
    }
    _emit(type, detail) {
      const evt = Object.assign({ type: type }, detail);
      const prop = this['on' + type];
      const list = (this._listeners.get(type) || []).slice();
      if (typeof prop === 'function') list.unshift(prop);
      for (const fn of list) {
        try {
          fn.call(this, evt);
        } catch (e) {
          rethrowLater(e); // a throwing listener must not break the client
        }
      }
    }

    // --- state -------------------------------------------------------------------------------
    state() {
      return this._state;
    }
    get pending() {
      return Array.from(this._inflight.keys());
    }
    qoslevel0() {
      this._qos = 0;
    }
    qoslevel1() {
      this._qos = 1;
    }
    qoslevel2() {
      this._qos = 2;
    }
    queuelevel0() {
      this._queue = 0;
    }
    queuelevel1() {
      this._queue = 1;
    }
    queuelevel2() {
      this._queue = 2;
    }

    // --- requests ---------------------------------------------------------------------------
    send(message, opts) {
      const qos = level(opts && opts.qos, this._qos);
      const params = { message: payload(message) };
      if (qos > 0) params.qos = QOS[qos];
      return this._post('sgc@message', params, qos);
    }

    publish(message, channel, opts) {
      opts = opts || {};
      const qos = level(opts.qos, this._qos);
      const queue = level(opts.queue, this._queue);
      const params = { channel: String(channel === undefined ? '' : channel), message: payload(message) };
      if (qos > 0) params.qos = QOS[qos];
      if (queue > 0) params.queue = QUEUE[queue];
      return this._post('sgc@publish', params, qos);
    }

    broadcast(message, channel, opts) {
      const qos = level(opts && opts.qos, this._qos);
      const params = { message: payload(message), channel: String(channel === undefined ? '' : channel) };
      if (qos > 0) params.qos = QOS[qos];
      return this._post('sgc@broadcast', params, qos);
    }

    subscribe(channel, opts) {
      const since = opts && opts.since !== undefined ? Number(opts.since) : undefined;
      const ids = [];
      for (const name of names(channel)) {
        const sub = { pattern: isPattern(name), confirmed: false, since: since };
        this._subs.set(name, sub);
        if (this._open()) ids.push(this._sendSubscribe(name, sub, false));
      }
      return ids.length === 0 ? undefined : ids.length === 1 ? ids[0] : ids;
    }

    unsubscribe(channel) {
      const ids = [];
      for (const name of names(channel)) {
        this._subs.delete(name);
        this._seq.delete(name);
        this._floor.delete(name);
        if (this._open()) {
          const id = guid();
          this._sendText(JSON.stringify({ jsonrpc: '2.0', method: 'sgc@unsubscribe', params: { channel: name }, id: id }));
          ids.push(id);
        }
      }
      return ids.length === 0 ? undefined : ids.length === 1 ? ids[0] : ids;
    }

    unsubscribeall() {
      this._subs.clear();
      this._seq.clear();
      this._floor.clear();
      if (this._open()) this._sendText(JSON.stringify({ jsonrpc: '2.0', method: 'sgc@unsubscribe_all' }));
    }

    rpc(id, method, params) {
      id = id === undefined || id === null || id === '' ? guid() : id;
      const msg = { jsonrpc: '2.0', method: String(method) };
      if (params !== undefined) msg.params = rpcParams(params);
      msg.id = id;
      this._rpcs.set(String(id), String(method));
      this._queueOrSend(JSON.stringify(msg));
      return id;
    }

    call(method, params, opts) {
      const timeout = opts && opts.timeout !== undefined ? opts.timeout : this.options.callTimeout;
      const id = guid();
      return new Promise((resolve, reject) => {
        const entry = { resolve: resolve, reject: reject, timer: null };
        if (timeout > 0) {
          entry.timer = setTimeout(() => {
            this._calls.delete(id);
            this._rpcs.delete(id);
            reject(new Error('sgcws: ' + method + ' timed out after ' + timeout + ' ms'));
          }, timeout);
        }
        this._calls.set(id, entry);
        this.rpc(id, method, params);
      });
    }

    notify(method, params) {
      const msg = { jsonrpc: '2.0', method: String(method) };
      if (params !== undefined) msg.params = rpcParams(params);
      this._queueOrSend(JSON.stringify(msg));
    }

    getsession() {
      this._queueOrSend(JSON.stringify({ jsonrpc: '2.0', method: 'sgc@session' }));
    }

    starttransaction(channel) {
      this._transaction('sgc@transaction', channel);
    }
    commit(channel) {
      this._transaction('sgc@commit', channel);
    }
    rollback(channel) {
      this._transaction('sgc@rollback', channel);
    }
    _transaction(method, channel) {
      const params = { channel: String(channel === undefined || channel === null ? '' : channel) };
      this._queueOrSend(JSON.stringify({ jsonrpc: '2.0', method: method, params: params }));
    }

    pubrel(id) {
      const text = JSON.stringify({
        jsonrpc: '2.0',
        method: 'sgc@pubrel',
        params: { qos: QOS[2] },
        qos: QOS[2],
        id: id,
      });
      const key = String(id);
      const item = this._inflight.get(key) || { qos: 2 };
      item.text = text;
      item.stage = 'pubrel';
      item.sentAt = 0;
      this._inflight.set(key, item);
      if (this._sendText(text)) item.sentAt = Date.now();
    }

    close(code, reason) {
      this._stopped = true;
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
      this._stopQosTimer();
      this._inflight.clear();
      this._outbox = [];
      this._failCalls('sgcws: closed');
      const ws = this.socket;
      if (ws && ws.readyState <= OPEN) {
        this._state = 'closing';
        try {
          ws.close(code === undefined ? 1000 : code, reason || '');
        } catch (e) {
          ws.close();
        }
      } else if (this._state !== 'closed') {
        this.socket = null;
        this._state = 'closed';
        this._emit('close', { code: code === undefined ? 1000 : code, reason: reason || '', wasClean: true, willReconnect: false });
      }
    }

    // --- internals: sending -----------------------------------------------------------------
    _open() {
      return this.socket !== null && this.socket.readyState === OPEN && this._state === 'open';
    }

    _sendText(text) {
      if (!this._open()) return false;
      this.socket.send(text);
      return true;
    }

    _queueOrSend(text) {
      if (this._stopped) return;
      if (this._sendText(text)) return;
      this._outbox.push(text);
      if (this._outbox.length > this.options.maxQueued) this._outbox.shift();
    }

    // A request with a GUID id; QoS 1/2 ones are kept until acknowledged.
    _post(method, params, qos) {
      const id = guid();
      const text = JSON.stringify({ jsonrpc: '2.0', method: method, params: params, id: id });
      if (qos > 0) {
        if (this._stopped) return id;
        const item = { text: text, qos: qos, stage: 'sent', sentAt: 0 };
        this._inflight.set(id, item);
        if (this._sendText(text)) item.sentAt = Date.now();
      } else {
        this._queueOrSend(text);
      }
      return id;
    }

    _position(name) {
      return Math.max(this._seq.get(name) || 0, this._floor.get(name) || 0);
    }

    _sendSubscribe(name, sub, resubscribed) {
      const id = guid();
      const params = { channel: name };
      let since;
      let report = false;
      if (this.options.recovery && !sub.pattern) {
        if (sub.confirmed) {
          since = this._position(name);
          report = true;
        } else if (sub.since !== undefined) {
          since = sub.since;
          report = true;
        } else {
          since = 0;
        }
        params.since = since;
      }
      this._pendingSubs.set(id, { name: name, since: since, report: report, resubscribed: resubscribed });
      this._sendText(JSON.stringify({ jsonrpc: '2.0', method: 'sgc@subscribe', params: params, id: id }));
      return id;
    }

    _checkQos() {
      if (!this._open()) return;
      const now = Date.now();
      for (const item of this._inflight.values()) {
        if (now - item.sentAt >= this.options.qosTimeout) {
          item.sentAt = now;
          this._sendText(item.text);
        }
      }
    }

    _startQosTimer() {
      if (this._qosTimer === null) this._qosTimer = setInterval(() => this._checkQos(), this.options.qosInterval);
    }

    _stopQosTimer() {
      if (this._qosTimer !== null) clearInterval(this._qosTimer);
      this._qosTimer = null;
    }

    _failCalls(why) {
      for (const [id, entry] of this._calls) {
        clearTimeout(entry.timer);
        this._rpcs.delete(id);
        entry.reject(new Error(why));
      }
      this._calls.clear();
    }

    // --- internals: connection ----------------------------------------------------------------
    _connect() {
      this._reconnectTimer = null;
      if (this._stopped) return;
      const o = this.options;
      if (!o.balancer && !(o.fallbackUrls && o.fallbackUrls.length)) return this._dial(this.url);
      this._chooseUrl().then((target) => {
        if (!this._stopped && this._reconnectTimer === null && this.socket === null) this._dial(target);
      });
    }

    // The balancer's node (joined to this.url's route), else the next fallback, else this.url.
    async _chooseUrl() {
      const o = this.options;
      if (o.balancer) {
        const f = o.fetch || (typeof fetch !== 'undefined' ? fetch : null);
        const ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
        const timer = ctl ? setTimeout(() => ctl.abort(), o.balancerTimeout) : null;
        try {
          if (!f) throw new Error('sgcws: no fetch function for the balancer (pass options.fetch)');
          const r = await f(String(o.balancer).replace(/\/+$/, '') + '/lb/node', {
            cache: 'no-store',
            signal: ctl ? ctl.signal : undefined,
          });
          const answer = await r.json();
          if (!r.ok || !answer || typeof answer.url !== 'string' || !answer.url) {
            throw new Error('sgcws: the balancer answered ' + r.status + (answer && answer.error ? ': ' + answer.error : ''));
          }
          this.node = answer.node || null;
          return answer.url.replace(/\/+$/, '') + routeOf(this.url);
        } catch (e) {
          this._emit('error', { error: e });
        } finally {
          if (timer) clearTimeout(timer);
        }
      }
      this.node = null;
      const list = o.fallbackUrls || [];
      if (list.length) return list[this._fallback++ % list.length];
      return this.url;
    }

    _dial(target) {
      this.target = target;
      const Ctor = this.options.WebSocket || (typeof WebSocket !== 'undefined' ? WebSocket : null);
      if (!Ctor) throw new Error('sgcws: no WebSocket constructor (pass options.WebSocket)');
      let ws;
      try {
        ws = new Ctor(target, this.options.protocol);
      } catch (e) {
        this._emit('error', { error: e });
        this._scheduleReconnect();
        return;
      }
      this.socket = ws;
      this._state = this._opens > 0 ? 'reconnecting' : 'connecting';
      ws.onopen = () => this._onOpen(ws);
      ws.onmessage = (e) => {
        if (ws === this.socket) this._onMessage(typeof e.data === 'string' ? e.data : String(e.data));
      };
      ws.onerror = (e) => {
        if (ws === this.socket) this._emit('error', { error: e });
      };
      ws.onclose = (e) => this._onClose(ws, e);
    }

    _onOpen(ws) {
      if (ws !== this.socket) return;
      this._state = 'open';
      this._attempt = 0;
      const reconnected = this._opens++ > 0;
      this._emit('open', { reconnected: reconnected });
      if (!this._open()) return; // a listener closed it
      for (const [name, sub] of this._subs) this._sendSubscribe(name, sub, reconnected);
      const now = Date.now();
      for (const item of this._inflight.values()) {
        item.sentAt = now;
        this._sendText(item.text);
      }
      const queued = this._outbox;
      this._outbox = [];
      for (const text of queued) this._sendText(text);
      this._startQosTimer();
    }

    _onClose(ws, e) {
      if (ws !== this.socket) return;
      this.socket = null;
      this.session = null;
      this._stopQosTimer();
      this._pendingSubs.clear();
      this._failCalls('sgcws: connection closed (code ' + e.code + ')');
      this._rpcs.clear();
      const again =
        !this._stopped &&
        this.options.reconnect &&
        (this.options.maxReconnectAttempts <= 0 || this._attempt < this.options.maxReconnectAttempts);
      this._state = again ? 'reconnecting' : 'closed';
      this._emit('close', { code: e.code, reason: e.reason || '', wasClean: !!e.wasClean, willReconnect: again });
      if (again) this._scheduleReconnect();
      else if (!this._stopped) {
        this._inflight.clear();
        this._outbox = [];
      }
    }

    _scheduleReconnect() {
      if (this._stopped) return;
      const o = this.options;
      if (o.maxReconnectAttempts > 0 && this._attempt >= o.maxReconnectAttempts) {
        this._state = 'closed';
        return;
      }
      this._attempt++;
      const base = Math.min(o.reconnectMaxDelay, o.reconnectDelay * Math.pow(o.reconnectFactor, this._attempt - 1));
      const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
      this._state = 'reconnecting';
      this._emit('reconnecting', { attempt: this._attempt, delay: delay });
      if (!this._stopped) this._reconnectTimer = setTimeout(() => this._connect(), delay);
    }

    // --- internals: receiving ---------------------------------------------------------------
    _ack(id) {
      this._sendText(JSON.stringify({ jsonrpc: '2.0', result: { method: 'sgc@acknowledgment' }, id: id }));
    }

    _onMessage(text) {
      this._emit('message', { data: text });
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        if (text === 'esegece.com') this._emit('sgcprotocol', { protocol: text });
        else this._emit('error', { error: new Error('sgcws: not JSON: ' + text.slice(0, 100)) });
        return;
      }
      if (msg === null || typeof msg !== 'object') return;
      const hasId = Object.prototype.hasOwnProperty.call(msg, 'id');
      const id = hasId ? msg.id : undefined;
      const r = msg.result;
      const method = r !== null && typeof r === 'object' && !Array.isArray(r) ? r.method : undefined;
      if (method === 'sgc@event' && !hasId) return this._onEvent(r);
      switch (method) {
        case 'sgc@session':
          this.session = r.message;
          if (hasId && this.options.ackServerMessages) this._ack(id);
          return this._emit('sgcsession', { guid: r.message });
        case 'sgc@message':
          return this._emit('sgcmessage', { channel: r.channel === undefined ? '' : r.channel, message: r.message });
        case 'sgc@subscribe':
          return this._onSubscribed(r, id);
        case 'sgc@unsubscribe':
          return this._emit('sgcunsubscribe', { channel: r.channel, id: id });
        case 'sgc@acknowledgment':
          if (hasId) this._inflight.delete(String(id));
          return this._emit('sgcacknowledgment', { id: id });
        case 'sgc@pubrec':
          if (hasId) {
            const item = this._inflight.get(String(id));
            if (item && this.options.autoPubrel) this.pubrel(id);
          }
          return this._emit('sgcpubrec', { id: id });
        default:
          break;
      }
      if (msg.error !== undefined) return this._onRpcAnswer(msg, id, hasId, false);
      if (Object.prototype.hasOwnProperty.call(msg, 'result')) return this._onRpcAnswer(msg, id, hasId, true);
      // Request-shaped server messages: the server's write to this one connection.
      if (msg.method === 'sgc@message') {
        const p = msg.params && typeof msg.params === 'object' ? msg.params : {};
        this._emit('sgcmessage', { channel: '', message: p.message });
      }
    }

    _onEvent(r) {
      const channel = r.channel;
      const seq = r.sequence;
      // Only channels subscribed by name are numbered for us without gaps: a channel seen
      // through a pattern alone may be dropped by the server and start again at 1.
      const sub = this._subs.get(channel);
      if (typeof seq === 'number' && sub && !sub.pattern) {
        const last = this._seq.get(channel);
        if (last !== undefined && seq <= last) return; // already delivered (a replay after a reconnect)
        this._seq.set(channel, seq);
      }
      this._emit('sgcevent', { channel: channel, message: r.message, sequence: seq });
    }

    _onSubscribed(r, id) {
      const channel = r.channel;
      const key = id === undefined ? undefined : String(id);
      const p = key !== undefined ? this._pendingSubs.get(key) : undefined;
      if (p && p.name === channel) this._pendingSubs.delete(key);
      const sub = this._subs.get(channel);
      if (sub) sub.confirmed = true;
      const sequence = typeof r.sequence === 'number' ? r.sequence : undefined;
      if (p && p.since !== undefined && sequence !== undefined) {
        // Replays of the events after `since` follow; the server's counter below `since` means
        // the channel was created again: everything it replays is new to us.
        this._seq.set(channel, p.since > sequence ? 0 : p.since);
        this._floor.set(channel, sequence);
      }
      this._emit('sgcsubscribe', {
        channel: channel,
        id: id,
        sequence: sequence,
        recovered: r.recovered,
        resubscribed: p ? p.resubscribed : false,
      });
      if (p && p.report && sequence !== undefined) {
        this._emit('sgcrecovery', { channel: channel, since: p.since, sequence: sequence, recovered: r.recovered === true });
      }
    }

    _onRpcAnswer(msg, id, hasId, ok) {
      const key = hasId ? String(id) : undefined;
      const method = key !== undefined ? this._rpcs.get(key) : undefined;
      if (key !== undefined) this._rpcs.delete(key);
      const call = key !== undefined ? this._calls.get(key) : undefined;
      if (call) {
        this._calls.delete(key);
        clearTimeout(call.timer);
      }
      if (hasId && this.options.ackServerMessages) this._ack(id);
      if (ok) {
        this._emit('sgcrpcresult', { id: id, result: msg.result, method: method });
        if (call) call.resolve(msg.result);
        return;
      }
      const err = msg.error && typeof msg.error === 'object' ? msg.error : {};
      // A refused subscribe (e.g. -32001 denied): forget it, so it is not sent again.
      const p = key !== undefined ? this._pendingSubs.get(key) : undefined;
      if (p) {
        this._pendingSubs.delete(key);
        this._subs.delete(p.name);
      }
      const detail = { id: id, code: err.code, message: err.message, data: err.data, method: method };
      if (p) detail.channel = p.name;
      this._emit('sgcrpcerror', detail);
      if (call) {
        const e = new Error(String(err.message));
        e.code = err.code;
        e.data = err.data;
        call.reject(e);
      }
    }
  }

  sgcws.guid = guid;
  sgcws.sgcws = sgcws;
  return sgcws;
});
