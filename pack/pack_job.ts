/**
 * {@linkcode PackJobRecord}: the `des_pack_jobs` row of one shard and source
 * while it is packed. The row is created when the first container starts
 * (an idle shard writes nothing), checkpointed after every container that
 * reached the end of its pipeline (files and bytes done, the last name
 * packed), and closed as done or failed. Running rows left by a packer that
 * died are closed as failed when the shard is packed next. The record is
 * bookkeeping: a failure to write it is logged and never stops packing.
 *
 * @module
 */

import { checkpointPackJob, finishPackJob, startPackJob } from "../db/pack_jobs.ts";
import type { PackContext } from "./pack_context.ts";

/** A container that reached the end of its pipeline. */
export interface PackedContainer {
  /** Container id. */
  containerId: string;
  /** Files in it. */
  files: number;
  /** Their content bytes. */
  bytes: number;
  /** The last DES name in it (rows are packed in name order). */
  lastName: string | undefined;
}

/** The job row of one shard and source in one packing run. */
export class PackJobRecord {
  readonly #ctx: Pick<PackContext, "db" | "owner" | "log">;
  readonly #shard: number;
  readonly #source: string;
  #id: number | undefined;
  #skip = false;
  #files = 0;
  #bytes = 0;
  #containers = 0;

  /** @param ctx database, owner and logger @param shard the shard @param source the source */
  constructor(ctx: Pick<PackContext, "db" | "owner" | "log">, shard: number, source: string) {
    this.#ctx = ctx;
    this.#shard = shard;
    this.#source = source;
  }

  /** Create the row (once): close stale running rows and insert this run's, in one statement. */
  async begin(): Promise<void> {
    if (this.#id !== undefined || this.#skip) return;
    await this.#bookkeeping("start", async () => {
      const row = await startPackJob(
        this.#ctx.db,
        { shard: this.#shard, source: this.#source, owner: this.#ctx.owner },
        `abandoned: the shard was packed again by ${this.#ctx.owner}`,
      );
      this.#id = row.id;
    });
    if (this.#id === undefined) this.#skip = true;
  }

  /** Count a finished container and write the checkpoint. */
  async packed(c: PackedContainer): Promise<void> {
    this.#files += c.files;
    this.#bytes += c.bytes;
    this.#containers++;
    const id = this.#id;
    if (id === undefined) return;
    await this.#bookkeeping("checkpoint", () =>
      checkpointPackJob(this.#ctx.db, id, {
        filesDone: this.#files,
        bytesDone: this.#bytes,
        containerId: c.containerId,
        checkpoint: { lastName: c.lastName ?? null, containers: this.#containers },
      }));
  }

  /** Close the row: done, or failed with the error's message. */
  async finish(error?: unknown): Promise<void> {
    const id = this.#id;
    if (id === undefined) return;
    this.#id = undefined;
    await this.#bookkeeping(
      "finish",
      () =>
        error === undefined
          ? finishPackJob(this.#ctx.db, id, "done")
          : finishPackJob(this.#ctx.db, id, "failed", String((error as Error)?.message ?? error)),
    );
  }

  async #bookkeeping(step: string, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.#ctx.log.warn("could not record the pack job; packing goes on", {
        step,
        shard: this.#shard,
        source: this.#source,
        error: error as Error,
      });
    }
  }
}
