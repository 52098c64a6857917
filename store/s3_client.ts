/**
 * Construction of the S3 client used by {@linkcode S3ObjectStore}: fixed
 * checksum settings that S3-compatible servers accept, keep-alive
 * connection pools, a middleware that reports every HTTP request
 * (each retry attempt included) to a {@linkcode RequestHook}, and a client
 * span per command when tracing is on (`s3_spans.ts`).
 *
 * @module
 */

import { S3Client } from "@aws-sdk/client-s3";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { RequestHook, StoreRequest } from "./object_store.ts";
import { addS3Spans } from "./s3_spans.ts";

/** Connection settings of an S3 client. */
export interface S3ClientSettings {
  /** Endpoint URL; omitted = AWS. */
  endpoint?: string;
  /** Region, e.g. `us-east-1`. */
  region: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Path-style addressing (`endpoint/bucket/key`). */
  forcePathStyle: boolean;
  /** Sockets kept per host. */
  maxSockets: number;
  /** Attempts per request (retries + 1). */
  maxAttempts: number;
}

const OPS: Record<string, StoreRequest["op"]> = {
  GetObjectCommand: "get",
  HeadObjectCommand: "head",
  PutObjectCommand: "put",
  ListObjectsV2Command: "list",
  DeleteObjectCommand: "delete",
  CreateMultipartUploadCommand: "multipart-create",
  UploadPartCommand: "multipart-part",
  CompleteMultipartUploadCommand: "multipart-complete",
  AbortMultipartUploadCommand: "multipart-abort",
};

/**
 * An S3 client with keep-alive pools and `WHEN_REQUIRED` checksums (the SDK
 * default sends aws-chunked trailers that RGW 16 rejects). Object requests
 * are reported to `onRequest`; bucket administration is not.
 */
export function createS3Client(settings: S3ClientSettings, onRequest?: RequestHook): S3Client {
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1_000, maxSockets: settings.maxSockets };
  const client = new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: {
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
    },
    maxAttempts: settings.maxAttempts,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: 5_000,
      requestTimeout: 60_000,
      throwOnRequestTimeout: true, // a hung server fails the request instead of stalling it forever
    },
  });
  if (onRequest) addRequestHook(client, onRequest);
  addS3Spans(client);
  return client;
}

interface HookedInput {
  Key?: string;
  Prefix?: string;
  Range?: string;
  ContentLength?: number;
  Body?: unknown;
}

function addRequestHook(client: S3Client, onRequest: RequestHook): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = OPS[context.commandName ?? ""];
      if (!op) return next(args);
      const input = args.input as HookedInput;
      const request: StoreRequest = { op, key: input.Key ?? input.Prefix ?? "" };
      if (op === "get") request.ranged = input.Range !== undefined;
      const sent = input.ContentLength ??
        (input.Body instanceof Uint8Array ? input.Body.byteLength : undefined);
      if (sent !== undefined) request.bytes = sent;
      try {
        const result = await next(args);
        const received = (result.output as { ContentLength?: number }).ContentLength;
        if (op === "get" && received !== undefined) request.bytes = received;
        return result;
      } finally {
        onRequest(request);
      }
    },
    // inside the retry loop: one report per attempt, after the response is parsed
    { step: "deserialize", priority: "high", name: "desRequestHook" },
  );
}
