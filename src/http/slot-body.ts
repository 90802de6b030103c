/**
 * A response body that calls `onEnd` once the client has read all of it, the
 * client went away (the stream was cancelled) or the body failed: the moment
 * a request's concurrency slots are given back. `onEnd` runs once.
 *
 * @example
 * const body = bodyThatEnds(response.body, () => verdict.releaseSlots?.(Date.now()));
 * return new Response(body, response);
 */
export function bodyThatEnds(body: ReadableStream<Uint8Array>, onEnd: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        controller.error(error);
      }
    },
    async cancel(reason) {
      end();
      await reader.cancel(reason).catch(() => undefined);
    },
  });
}
