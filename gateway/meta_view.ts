/**
 * The metadata a caller without the `admin` scope sees: the document of
 * `/files/{name}/meta` without the container's object key (`container`), the
 * parent source (`source`) and the parent's attributes (`attrs`) — facts
 * about the archive's layout and the parent system that a reader of the file
 * does not need.
 *
 * @module
 */

/** Members left out of the public view. */
export const PRIVATE_META_MEMBERS = ["container", "source", "attrs"] as const;

/** `response` (a 200 JSON metadata document) without the private members. */
export async function publicMetaView(response: Response): Promise<Response> {
  const doc = await response.json() as Record<string, unknown>;
  for (const member of PRIVATE_META_MEMBERS) delete doc[member];
  const body = JSON.stringify(doc);
  const headers = new Headers(response.headers);
  headers.set("content-length", String(new TextEncoder().encode(body).byteLength));
  return new Response(body, { status: 200, headers });
}
