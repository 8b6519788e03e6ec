// A session's live stream: server-sent events read with fetch (so the bearer token goes in
// a header, not the URL), resumed after a dropped connection from the last message seen
// (`?after=`), so nothing is missed and nothing is shown twice.
import { authorization } from './api.js';
import { sleep } from './dom.js';

function parse(chunk) {
  const event = { event: 'message', data: '', id: null };
  for (const line of chunk.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.event = value;
    else if (field === 'data') event.data += value;
    else if (field === 'id') event.id = value;
  }
  return event;
}

/**
 * Follows session `id` from message `after`. `onFrame({kind, sequence, message|payload})`
 * sees each event once; `onState('live'|'reconnecting'|'gone')` reports the connection.
 * Returns {stop()}.
 */
export function follow(id, { after = 0, onFrame, onState = () => {} }) {
  let last = after;
  let stopped = false;
  let controller = null;
  (async () => {
    let delay = 500;
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch(`/api/v1/sessions/${id}/stream?after=${last}`, {
          headers: { ...authorization(), accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (res.status === 404 || res.status === 401 || res.status === 403) {
          onState('gone');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`stream: HTTP ${res.status}`);
        onState('live');
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const event = parse(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (!event.data || event.event === 'close') continue;
            const frame = JSON.parse(event.data);
            if (frame.kind === 'message') {
              if (frame.sequence <= last) continue;
              last = frame.sequence;
            }
            onFrame(frame);
          }
        }
      } catch {
        if (stopped) return;
      }
      if (stopped) return;
      onState('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
    /** Drops the connection as a network failure would (it then resumes). */
    drop() {
      controller?.abort();
    },
    get after() { return last; },
  };
}
