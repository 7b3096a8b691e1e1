/**
 * Reading an upstream answer's body with a size limit: `response.text()` has none, so a huge
 * or endless body would sit whole in memory. This reads chunk by chunk and gives up at the
 * limit (undefined), cancelling the rest; a body whose length is stated (and within the limit)
 * is read at once.
 */
export async function readBody(response: Response, limit: number): Promise<string | undefined> {
  if (Number(response.headers.get("content-length") ?? 0) > limit) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return "";
  // A stated length within the limit, of a body not decoded on the way in (whose decoded size
  // the length would not bound): it is all there will be, so read it in one go, which costs a
  // fraction of the chunk loop below (per API call, in the CPU profile of a sync).
  const length = response.headers.get("content-length");
  if (length !== null && /^\d+$/.test(length) && !response.headers.has("content-encoding")) {
    return await response.text();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
