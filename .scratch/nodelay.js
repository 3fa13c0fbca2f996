const net = require('net');
const orig = net.Server.prototype.emit;
net.Server.prototype.emit = function (ev, s) { if (ev === 'connection' && s && s.setNoDelay) s.setNoDelay(true); return orig.apply(this, arguments); };
