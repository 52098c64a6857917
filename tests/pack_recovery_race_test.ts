/**
 * Recovery of a container that a packer left `building` with a multipart
 * upload still pending (killed right after it sent CompleteMultipartUpload,
 * or mid-upload): `des recover` aborts the upload before it deletes, so the
 * S3 server can no longer complete it and bring the object back under an
 * aborted container. Runs through the real set-up, whose store is a wrapper.
 */

import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createContainer, getContainer } from "../db/containers.ts";
import { recoverCommand } from "../pack/main.ts";
import { assert, assertEquals } from "./_helpers/assert.ts";
import { createPackWorld } from "./_helpers/pack_world.ts";
import { pendingUploads, s3TestIgnore } from "./_helpers/s3.ts";

Deno.test({
  name: "recover: a pending upload of a building container is aborted, so it cannot complete later",
  ignore: s3TestIgnore(),
  sanitizeResources: false,
  async fn() {
    const world = await createPackWorld({ fsRows: 4, shardBits: 3 });
    try {
      const { archive } = world;
      const containerId = "ef".repeat(16);
      const key = `docs-fs/0/${containerId}.des`;
      await createContainer(world.meta.db, {
        containerId,
        shard: 0,
        source: "docs-fs",
        bucket: archive.bucket,
        key,
      });
      const { UploadId } = await archive.client.send(
        new CreateMultipartUploadCommand({ Bucket: archive.bucket, Key: key }),
      );
      const part = await archive.client.send(
        new UploadPartCommand({
          Bucket: archive.bucket,
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: new TextEncoder().encode("a container that was never recorded as uploaded"),
        }),
      );

      const env = new Map(Object.entries({ ...world.env, DES_PACKER_WORKDIR: `${world.dir}/w` }));
      assertEquals(await recoverCommand(["--sources", world.sourcesPath], env), 0);
      assertEquals((await getContainer(world.meta.db, containerId))?.state, "aborted");
      assertEquals(await pendingUploads(archive), []);

      // The completion the dead packer had sent arrives now: it must find no upload.
      const completed = await archive.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: archive.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      ).then(() => true, () => false);
      assert(!completed, "the upload could still be completed after recovery");
      assertEquals(await archive.head(key), null);
    } finally {
      await world.close();
    }
  },
});
