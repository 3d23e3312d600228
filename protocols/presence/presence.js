/*
 * presence.js: a browser (and node) client for the sgc Presence protocol (subprotocol
 * `presence.esegece.com`, spec/sgc-protocols.md section 5), as served by the switchboard daemon
 * at /presence.js; the server is protocols/presence/server.hpp. One file, no dependencies, no
 * build step, plain ES2017, in the style of /sgc.js. Load it with
 *   <script src="/presence.js"></script>             (defines the global `sgcpresence`)
 * or in node
 *   const sgcpresence = require('./presence.js');
 *   const p = new sgcpresence('ws://127.0.0.1:8080/ws/presence', { WebSocket: require('ws'), name: 'Ann' });
 *
 *   const p = new sgcpresence(url, { name: 'Ann', info: 'likes tea' });  // connects at once
 *   p.on('sgcnewchannelmember', (e) => show(e.member.name + ' joined ' + e.channel));
 *   p.join('room1');                       // remembered: joined again after every reconnect
 *   p.publish('hello', 'room1');
 *   p.getMembers('room1').then((members) => ...);
 *
 * The connection: the server sends sgc@presence@session with this connection's GUID; the
 * client then announces itself at once with sgc@presence@member@new {id: the session (or
 * options.id), name, info}. The member is "ready" when the server's member@new broadcast for
 * it comes back (event `ready`): joins, publishes and the rest made before that wait and go
 * out then, in order.
 *
 * Methods (original JS names, where it had them, in brackets):
 *   join(channel)               [subscribe] channel@member@new; remembered for reconnects
 *   leave(channel)              [unsubscribe] channel@member@remove
 *   publish(text, [channel])    publish@msg to a channel's members, or to everyone ("")
 *   getMembers([channel])       [getmembers] get@members; Promise of the members array (also
 *                               event sgcgetmembers). Rejects on an error 5 / 30 for that
 *                               channel, on close, or after options.callTimeout ms
 *   invite(channel, ids)        channel@invitation to one member id or an array of them
 *   respond(channel, inviterId, accept[, {code, text}])
 *                               channel@invitation@response (our extension) to the inviter;
 *                               accepting also joins the channel
 *   update(name, info)          member@update (our extension): a new name and info for
 *                               everyone to see
 *   removeMember()              [removemember] member@remove: leave the presence (the socket
 *                               stays; newMember() comes back)
 *   newMember([name[, info]])   [newmember] member@new again, after removeMember()
 *   close([code[, reason]])     closes for good: no reconnect
 *   state()                     'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed'
 *   on(type, fn), off, once, addEventListener, removeEventListener, or c.onsgcnewmember = fn.
 *     Listeners get one plain object (with `type`). Members are {id, name, info}; a channel
 *     is its name (a string); a message is {text}.
 * Properties: url, session (this connection's GUID), member (this client's {id, name, info};
 * id null until announced), members (Map id -> member: everyone, kept from the events and a
 * get@members of everyone when ready), channels (Map name -> Map id -> member: the channels
 * this client is in, kept the same way), joined (Set of channel names wanted), socket.
 *
 * Events (sgc names; every server message has one):
 *   sgcsession            {id}                            the session GUID
 *   ready                 {member, reconnected}           our member@new came back
 *   sgcnewmember          {member}                        someone (or we) joined the presence
 *   sgcremovemember       {member}                        someone left the presence
 *   sgcupdatemember       {member}                        member@update (our extension)
 *   sgcnewchannelmember   {member, channel}               a member joined a channel we are in
 *   sgcremovechannelmember {member, channel}              a member left a channel we are in
 *   sgcpublishmsg         {member, channel, message}      message: {text}
 *   sgcgetmembers         {members, member, channel}      the answer to get@members
 *   sgcerrormemberchannel {error, member, channel}        error: {code, text} (5.2 table;
 *                                                         -326xx: a message the server could
 *                                                         not read)
 *   sgcerrorpublishmsg    {error, message, member, channel}  both error methods are accepted
 *   sgcchannelinvitation  {member, channel, accept(), reject([code, text]), defer()}
 *                         member: the inviter. A listener calls accept() (join + response
 *                         true) or reject() (response false), or defer() and answers later
 *                         with respond(). Undecided after the listeners: declined (the
 *                         original's default Accept = false), unless options.autoDecline is false
 *   sgcchannelinvitationresponse {member, channel, accept, error}  member: the invitee
 *   sgcacknowledgment     {id}                            the server acked one of ours
 *   open {reconnected}, close {code, reason, wasClean, willReconnect},
 *   reconnecting {attempt, delay}, error {error}, message {data} (every raw text, before decoding)
 *
 * Options (defaults):
 *   WebSocket: the global WebSocket        the constructor to use (node: require('ws'))
 *   protocol: 'presence.esegece.com'       the subprotocol offered
 *   name: '', info: ''                     this member (info: a string; an object or array is
 *                                          sent as JSON and comes back as that value)
 *   id: ''                                 member id; '' = the session GUID (new each connection).
 *                                          A fixed id may still be held by our previous
 *                                          connection after a drop: the announcement is then
 *                                          retried every second, up to 30 times
 *   encodeBase64: false                    send every string value as sgc@b64:<base64> (1.5);
 *                                          received values are decoded by prefix, always
 *   acknowledgment: false                  every message we send carries an id and is re-sent
 *   ackInterval: 1000, ackTimeout: 5000    every ackInterval ms while unacknowledged for
 *                                          ackTimeout ms (5.3). Whatever this says, every
 *                                          message the server sends with an id is acknowledged
 *   trackMembers: true                     keep `members` and `channels` (asks get@members of
 *                                          everyone when ready, and of each channel on join)
 *   autoDecline: true                      decline invitations nobody accepted or deferred
 *   reconnect: true, reconnectDelay: 500, reconnectMaxDelay: 15000, reconnectFactor: 2,
 *   maxReconnectAttempts: 0 (unlimited)    backoff as sgc.js: delay * factor^(n-1), capped, +-20 %
 *   callTimeout: 10000                     getMembers() timeout, ms
 *   maxQueued: 1000                        messages kept while not ready (oldest dropped)
 *
 * Reconnect. After a close we did not ask for, the client reconnects with backoff; on the new
 * session it announces the member again (same name and info; with options.id '' its id is
 * the new session GUID) and joins every channel in `joined` again. The server removed the old
 * member when the old connection closed (at once after a close frame, after its heartbeat
 * timeout after a drop), so the others see a leave and a join.
 */
(function (root, factory) {
  'use strict';
  const sgcpresence = factory();
  if (typeof module === 'object' && module && module.exports) module.exports = sgcpresence;
  else if (root) root.sgcpresence = sgcpresence;
})(typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const OPEN = 1;
  const P = 'sgc@presence@';
  const M = {
    session: P + 'session',
    memberNew: P + 'member@new',
    memberRemove: P + 'member@remove',
    memberUpdate: P + 'member@update',
    join: P + 'channel@member@new',
    leave: P + 'channel@member@remove',
    publish: P + 'publish@msg',
    getMembers: P + 'get@members',
    sendMembers: P + 'send@members',
    invitation: P + 'channel@invitation',
    invitationResponse: P + 'channel@invitation@response',
    errorMemberChannel: P + 'error@member@channel',
    errorPublish: P + 'error@publish@msg',
    ack: P + 'acknowledgment',
  };
  const B64 = 'sgc@b64:';
  const MEMBER_EXISTS = 1;

  const DEFAULTS = {
    WebSocket: null,
    protocol: 'presence.esegece.com',
    name: '',
    info: '',
    id: '',
    encodeBase64: false,
    acknowledgment: false,
    ackInterval: 1000,
    ackTimeout: 5000,
    trackMembers: true,
    autoDecline: true,
    reconnect: true,
    reconnectDelay: 500,
    reconnectMaxDelay: 15000,
    reconnectFactor: 2,
    maxReconnectAttempts: 0,
    callTimeout: 10000,
    maxQueued: 1000,
  };

  // A version 4 GUID, upper-case 8-4-4-4-12 (ack ids).
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

  // --- sgc@b64: values (1.5) ---------------------------------------------------------------------
  function utf8Base64(text) {
    const bytes = new TextEncoder().encode(text);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }
  function base64Utf8(b64) {
    const s = atob(b64.replace(/[\s]/g, ''));
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }
  // Every string value (keys stay) as sgc@b64:, except the top-level jsonrpc value.
  function encodeValues(v, top) {
    if (typeof v === 'string') return B64 + utf8Base64(v);
    if (Array.isArray(v)) return v.map((x) => encodeValues(x, false));
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v)) out[k] = top && k === 'jsonrpc' ? v[k] : encodeValues(v[k], false);
      return out;
    }
    return v;
  }
  // Every string value with the prefix, decoded (a bad one is kept as it came).
  function decodeValues(v) {
    if (typeof v === 'string') {
      if (v.indexOf(B64) !== 0) return v;
      try {
        return base64Utf8(v.slice(B64.length));
      } catch (e) {
        return v;
      }
    }
    if (Array.isArray(v)) return v.map(decodeValues);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v)) out[k] = decodeValues(v[k]);
      return out;
    }
    return v;
  }

  function str(v) {
    return v === undefined || v === null ? '' : typeof v === 'string' ? v : String(v);
  }
  function memberOf(m) {
    const o = m && typeof m === 'object' && !Array.isArray(m) ? m : {};
    return { id: str(o.id), name: str(o.name), info: o.info === undefined || o.info === null ? '' : o.info };
  }
  function channelOf(c) {
    return c && typeof c === 'object' ? str(c.name) : str(c);
  }
  function rethrowLater(e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }

  class sgcpresence {
    constructor(url, options) {
      this.url = url;
      this.options = Object.assign({}, DEFAULTS, options || {});
      this.session = null;
      this.socket = null;
      this.member = { id: null, name: str(this.options.name), info: this.options.info === undefined ? '' : this.options.info };
      this.members = new Map();
      this.channels = new Map();
      this.joined = new Set();
      this._listeners = new Map();
      this._state = 'connecting';
      this._stopped = false;
      this._ready = false;
      this._removed = false; // removeMember() was called: do not announce again
      this._opens = 0;
      this._readies = 0;
      this._attempt = 0;
      this._announceTries = 0;
      this._reconnectTimer = null;
      this._announceTimer = null;
      this._ackTimer = null;
      this._outbox = []; // objects waiting for ready
      this._inflight = new Map(); // ack id -> {text, sentAt}
      this._calls = []; // getMembers: {channel, resolve, reject, timer}
      this._connect();
    }

    // --- events -------------------------------------------------------------------------------
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
      return evt;
    }

    state() {
      return this._state;
    }
    get ready() {
      return this._ready;
    }
    get pending() {
      return Array.from(this._inflight.keys());
    }

    // --- requests -----------------------------------------------------------------------------
    join(channel) {
      const name = str(channel);
      this.joined.add(name);
      this._request({ method: M.join, member: this._me(), channel: { name: name } });
    }
    leave(channel) {
      const name = str(channel);
      this.joined.delete(name);
      this._request({ method: M.leave, member: this._me(), channel: { name: name } });
    }
    publish(text, channel) {
      this._request({ method: M.publish, member: this._me(), channel: { name: str(channel) }, message: { text: text === undefined ? '' : text } });
    }
    getMembers(channel) {
      const name = str(channel);
      return new Promise((resolve, reject) => {
        const call = { channel: name, resolve: resolve, reject: reject, timer: null };
        if (this.options.callTimeout > 0) {
          call.timer = setTimeout(() => {
            this._dropCall(call);
            reject(new Error('sgcpresence: get@members of "' + name + '" timed out'));
          }, this.options.callTimeout);
        }
        this._calls.push(call);
        this._request({ method: M.getMembers, member: this._me(), channel: { name: name } });
      });
    }
    invite(channel, ids) {
      const list = (Array.isArray(ids) ? ids : [ids]).map((id) => ({ id: str(id), name: '', info: '' }));
      this._request({ method: M.invitation, channel: { name: str(channel) }, member: this._me(true), members: list });
    }
    respond(channel, inviterId, accept, error) {
      const name = str(channel);
      const msg = { method: M.invitationResponse, channel: { name: name }, member: this._me(true), members: [{ id: str(inviterId) }], accept: !!accept };
      if (error && typeof error === 'object') msg.error = { code: Number(error.code) || 0, text: str(error.text) };
      this._request(msg);
      if (accept) this.join(name);
    }
    update(name, info) {
      if (name !== undefined) this.member.name = str(name);
      if (info !== undefined) this.member.info = info;
      this._request({ method: M.memberUpdate, member: this._me(true) });
    }
    removeMember() {
      this._removed = true;
      this._request({ method: M.memberRemove, member: this._me() });
    }
    newMember(name, info) {
      if (name !== undefined) this.member.name = str(name);
      if (info !== undefined) this.member.info = info;
      this._removed = false;
      if (this._isOpen() && this.session !== null) this._announce();
    }

    close(code, reason) {
      this._stopped = true;
      clearTimeout(this._reconnectTimer);
      clearTimeout(this._announceTimer);
      this._reconnectTimer = this._announceTimer = null;
      this._stopAckTimer();
      this._inflight.clear();
      this._outbox = [];
      this._failCalls('sgcpresence: closed');
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

    // --- internals: sending -------------------------------------------------------------------
    _me(full) {
      const m = { id: this.member.id === null ? '' : this.member.id };
      if (full) {
        m.name = this.member.name;
        m.info = this.member.info;
      }
      return m;
    }
    _isOpen() {
      return this.socket !== null && this.socket.readyState === OPEN && this._state === 'open';
    }
    // A request: sent now when ready, else kept (member ids are filled in when it goes).
    _request(msg) {
      if (this._stopped) return;
      if (this._ready && this._isOpen()) return this._send(msg);
      this._outbox.push(msg);
      if (this._outbox.length > this.options.maxQueued) this._outbox.shift();
    }
    _send(msg) {
      const full = Object.assign({ jsonrpc: '2.0' }, msg);
      if (full.member && full.member.id === '' && this.member.id) full.member = Object.assign({}, full.member, { id: this.member.id });
      let id;
      if (this.options.acknowledgment) full.id = id = guid();
      const text = JSON.stringify(this.options.encodeBase64 ? encodeValues(full, true) : full);
      if (id !== undefined) this._inflight.set(id, { text: text, sentAt: Date.now() });
      if (!this._isOpen()) return false;
      this.socket.send(text);
      return true;
    }
    _sendRaw(obj) {
      if (!this._isOpen()) return;
      this.socket.send(JSON.stringify(this.options.encodeBase64 ? encodeValues(obj, true) : obj));
    }
    _announce() {
      clearTimeout(this._announceTimer);
      this._announceTimer = null;
      const id = this.options.id ? str(this.options.id) : this.session;
      this.member.id = id;
      this._send({ method: M.memberNew, member: { id: id, name: this.member.name, info: this.member.info } });
    }

    _checkAcks() {
      if (!this._isOpen()) return;
      const now = Date.now();
      for (const item of this._inflight.values()) {
        if (now - item.sentAt >= this.options.ackTimeout) {
          item.sentAt = now;
          this.socket.send(item.text);
        }
      }
    }
    _startAckTimer() {
      if (this._ackTimer === null && this.options.acknowledgment) this._ackTimer = setInterval(() => this._checkAcks(), this.options.ackInterval);
    }
    _stopAckTimer() {
      if (this._ackTimer !== null) clearInterval(this._ackTimer);
      this._ackTimer = null;
    }

    _dropCall(call) {
      const i = this._calls.indexOf(call);
      if (i >= 0) this._calls.splice(i, 1);
      clearTimeout(call.timer);
    }
    _takeCall(channel) {
      const call = this._calls.find((c) => c.channel === channel);
      if (call) this._dropCall(call);
      return call;
    }
    _failCalls(why) {
      const calls = this._calls;
      this._calls = [];
      for (const call of calls) {
        clearTimeout(call.timer);
        call.reject(new Error(why));
      }
    }

    // --- internals: connection ----------------------------------------------------------------
    _connect() {
      this._reconnectTimer = null;
      if (this._stopped) return;
      const Ctor = this.options.WebSocket || (typeof WebSocket !== 'undefined' ? WebSocket : null);
      if (!Ctor) throw new Error('sgcpresence: no WebSocket constructor (pass options.WebSocket)');
      let ws;
      try {
        ws = new Ctor(this.url, this.options.protocol);
      } catch (e) {
        this._emit('error', { error: e });
        this._scheduleReconnect();
        return;
      }
      this.socket = ws;
      this._state = this._opens > 0 ? 'reconnecting' : 'connecting';
      ws.onopen = () => {
        if (ws !== this.socket) return;
        this._state = 'open';
        this._attempt = 0;
        this._emit('open', { reconnected: this._opens++ > 0 });
        this._startAckTimer();
      };
      ws.onmessage = (e) => {
        if (ws === this.socket) this._onMessage(typeof e.data === 'string' ? e.data : String(e.data));
      };
      ws.onerror = (e) => {
        if (ws === this.socket) this._emit('error', { error: e });
      };
      ws.onclose = (e) => this._onClose(ws, e);
    }

    _onClose(ws, e) {
      if (ws !== this.socket) return;
      this.socket = null;
      this.session = null;
      this._ready = false;
      this.member.id = null;
      this.members.clear();
      this.channels.clear();
      clearTimeout(this._announceTimer);
      this._announceTimer = null;
      this._stopAckTimer();
      this._inflight.clear(); // the server forgot them with the connection
      this._failCalls('sgcpresence: connection closed (code ' + e.code + ')');
      const again = !this._stopped && this.options.reconnect && (this.options.maxReconnectAttempts <= 0 || this._attempt < this.options.maxReconnectAttempts);
      this._state = again ? 'reconnecting' : 'closed';
      this._emit('close', { code: e.code, reason: e.reason || '', wasClean: !!e.wasClean, willReconnect: again });
      if (again) this._scheduleReconnect();
      else this._outbox = [];
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
      this._reconnectTimer = setTimeout(() => this._connect(), delay);
    }

    // Our member@new came back: join the remembered channels, then what waited.
    _onReady() {
      this._ready = true;
      this._announceTries = 0;
      const reconnected = this._readies++ > 0;
      this._emit('ready', { member: Object.assign({}, this.member), reconnected: reconnected });
      if (!this._isOpen()) return;
      if (this.options.trackMembers) this._send({ method: M.getMembers, member: this._me(), channel: { name: '' } });
      const queued = this._outbox;
      this._outbox = [];
      // Joins first (those still wanted, once each), then the rest in order.
      const pending = new Set(this.joined);
      for (const msg of queued) if (msg.method === M.join) pending.delete(msg.channel.name);
      for (const name of pending) this._send({ method: M.join, member: this._me(), channel: { name: name } });
      for (const msg of queued) this._send(msg);
    }

    // --- internals: receiving -----------------------------------------------------------------
    _onMessage(text) {
      this._emit('message', { data: text });
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        this._emit('error', { error: new Error('sgcpresence: not JSON: ' + text.slice(0, 100)) });
        return;
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return;
      msg = decodeValues(msg);
      const hasId = msg.id !== undefined && msg.id !== null;
      if (msg.method === M.ack) {
        if (hasId) this._inflight.delete(str(msg.id));
        return this._emit('sgcacknowledgment', { id: msg.id });
      }
      if (hasId) this._sendRaw({ jsonrpc: '2.0', method: M.ack, id: str(msg.id) }); // 5.3: always
      const member = memberOf(msg.member);
      const channel = channelOf(msg.channel);
      const track = this.options.trackMembers;
      const mine = this.member.id !== null && member.id === this.member.id;
      switch (msg.method) {
        case M.session:
          this.session = str(msg.message && msg.message.text);
          this._emit('sgcsession', { id: this.session });
          if (!this._removed) this._announce();
          return;
        case M.memberNew:
          if (track) this.members.set(member.id, member);
          this._emit('sgcnewmember', { member: member });
          if (mine && !this._ready) this._onReady();
          return;
        case M.memberUpdate:
          if (track) {
            if (this.members.has(member.id)) this.members.set(member.id, member);
            for (const list of this.channels.values()) if (list.has(member.id)) list.set(member.id, member);
          }
          if (mine) Object.assign(this.member, { name: member.name, info: member.info });
          return this._emit('sgcupdatemember', { member: member });
        case M.memberRemove:
          if (track) {
            this.members.delete(member.id);
            for (const list of this.channels.values()) list.delete(member.id);
          }
          if (mine) {
            this._ready = false;
            this.channels.clear();
          }
          return this._emit('sgcremovemember', { member: member });
        case M.join:
          if (track) {
            if (mine && !this.channels.has(channel)) {
              this.channels.set(channel, new Map());
              this._send({ method: M.getMembers, member: this._me(), channel: { name: channel } });
            }
            const list = this.channels.get(channel);
            if (list) list.set(member.id, member);
          }
          return this._emit('sgcnewchannelmember', { member: member, channel: channel });
        case M.leave:
          if (track) {
            if (mine) this.channels.delete(channel);
            else if (this.channels.has(channel)) this.channels.get(channel).delete(member.id);
          }
          return this._emit('sgcremovechannelmember', { member: member, channel: channel });
        case M.publish:
          return this._emit('sgcpublishmsg', { member: member, channel: channel, message: { text: msg.message ? msg.message.text : '' } });
        case M.sendMembers: {
          const members = Array.isArray(msg.members) ? msg.members.map(memberOf) : [];
          if (track) {
            const map = new Map(members.map((m) => [m.id, m]));
            if (channel === '') {
              this.members = map;
            } else if (this.channels.has(channel)) {
              this.channels.set(channel, map);
            }
          }
          const call = this._takeCall(channel);
          this._emit('sgcgetmembers', { members: members, member: member, channel: channel });
          if (call) call.resolve(members);
          return;
        }
        case M.errorMemberChannel:
        case M.errorPublish:
          return this._onError(msg, member, channel);
        case M.invitation:
          return this._onInvitation(member, channel);
        case M.invitationResponse:
          return this._emit('sgcchannelinvitationresponse', {
            member: member,
            channel: channel,
            accept: msg.accept === true,
            error: msg.error && typeof msg.error === 'object' ? { code: msg.error.code, text: str(msg.error.text) } : null,
          });
        default:
          return;
      }
    }

    _onError(msg, member, channel) {
      const error = msg.error && typeof msg.error === 'object' ? { code: Number(msg.error.code), text: str(msg.error.text) } : { code: 0, text: '' };
      const isPublish = msg.method === M.errorPublish || msg.message !== undefined;
      // Our own announcement refused: the id is still held (our previous connection, not yet
      // noticed gone): try again shortly.
      if (!this._ready && error.code === MEMBER_EXISTS && member.id === this.member.id && this.options.id && this._announceTries < 30) {
        this._announceTries++;
        this._announceTimer = setTimeout(() => {
          if (this._isOpen() && !this._ready) this._announce();
        }, 1000);
      }
      if (this.channels.has(channel) && error.code === 12) this.channels.delete(channel);
      if (!isPublish && (error.code === 5 || error.code === 30)) {
        const call = this._takeCall(channel);
        if (call) {
          const e = new Error(error.text || 'sgcpresence: get@members refused');
          e.code = error.code;
          call.reject(e);
        }
      }
      if (isPublish) {
        return this._emit('sgcerrorpublishmsg', { error: error, message: { text: msg.message ? msg.message.text : '' }, member: member, channel: channel });
      }
      this._emit('sgcerrormemberchannel', { error: error, member: member, channel: channel });
    }

    _onInvitation(inviter, channel) {
      let decided = false;
      const decide = (accept, error) => {
        if (decided) return;
        decided = true;
        this.respond(channel, inviter.id, accept, error);
      };
      this._emit('sgcchannelinvitation', {
        member: inviter,
        channel: channel,
        accept: () => decide(true),
        reject: (code, text) => decide(false, code === undefined ? undefined : { code: code, text: text }),
        defer: () => {
          decided = true;
        },
      });
      if (!decided && this.options.autoDecline) decide(false);
    }
  }

  sgcpresence.guid = guid;
  sgcpresence.encodeValues = encodeValues;
  sgcpresence.decodeValues = decodeValues;
  sgcpresence.sgcpresence = sgcpresence;
  return sgcpresence;
});
