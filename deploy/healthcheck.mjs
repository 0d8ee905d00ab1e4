#!/usr/bin/env node
// The image's HEALTHCHECK: `diffusevae-healthcheck [PATH]` (default /livez; compose asks /readyz) GETs the probe of
// the process this container runs and exits 0 on a 2xx, 1 otherwise, printing why (docker inspect shows it).
// The gateway answers on PORT (default 4000; HOST when that is one address), every other service on its probe
// listener, METRICS_PORT (the image sets 9464; METRICS_HOST likewise). Node itself: the slim image has no curl.
// No import and no top-level await, so that it runs as it is installed (/usr/local/bin, no extension: CommonJS)
// and as deploy/healthcheck.mjs (an ES module); node:http rather than fetch, which refuses some ports.
const http = process.getBuiltinModule('node:http');
const env = process.env;
const gateway = env.SERVICE === 'gateway';
const port = (gateway ? env.PORT : env.METRICS_PORT)?.trim() || (gateway ? '4000' : '9464');
const bound = (gateway ? env.HOST : env.METRICS_HOST)?.trim();
const host = !bound || bound === '0.0.0.0' || bound === '::' ? '127.0.0.1' : bound;
const probe = process.argv[2] || '/livez';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${probe}`;
const fail = (why) => {
  console.error(`healthcheck: ${url}: ${why}`);
  process.exit(1);
};
if (port === '0') fail(`${gateway ? 'PORT' : 'METRICS_PORT'}=0 is a random port: set a fixed one to probe`);
const req = http.get({ host, port: Number(port), path: probe, timeout: 3000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => {
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    if (!ok) fail(`${res.statusCode} ${body.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
    process.exit(0);
  });
});
req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
req.on('error', (e) => fail(e.message));
