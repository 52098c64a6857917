/**
 * A client span per S3 command sent through the AWS SDK (the packer's
 * uploads, listings and deletions), added as a middleware on the client's
 * stack: span `S3.<Operation>` with the semantic attributes `rpc.system`
 * (`aws-api`), `rpc.service` (`S3`), `rpc.method` (e.g. `PutObject`),
 * `aws.s3.bucket`, and `http.response.status_code` and `aws.s3.attempts`
 * when a response came. Object keys and bodies are not recorded.
 *
 * The middleware is only added when the process exports spans, so with
 * tracing off the SDK's stack is unchanged.
 *
 * @module
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { SpanKind } from "@opentelemetry/api";
import { inSpan, TRACING } from "../core/spans.ts";

interface Metadata {
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** `PutObject` for `PutObjectCommand`. */
export function s3Method(commandName: string | undefined): string {
  return (commandName ?? "Unknown").replace(/Command$/, "");
}

/** Add the span middleware to `client` when tracing is on; returns whether it did. */
export function addS3Spans(client: S3Client): boolean {
  if (!TRACING) return false;
  client.middlewareStack.add(
    (next, context) => (args) => {
      const method = s3Method(context.commandName);
      const bucket = (args.input as { Bucket?: string }).Bucket;
      const attributes = {
        "rpc.system": "aws-api",
        "rpc.service": "S3",
        "rpc.method": method,
        ...(bucket ? { "aws.s3.bucket": bucket } : {}),
      };
      return inSpan(`S3.${method}`, attributes, async (span) => {
        try {
          const result = await next(args);
          const meta = (result.output as Metadata).$metadata;
          if (meta?.httpStatusCode) {
            span.setAttribute("http.response.status_code", meta.httpStatusCode);
          }
          if (meta?.attempts) span.setAttribute("aws.s3.attempts", meta.attempts);
          return result;
        } catch (err) {
          const status = (err as Metadata)?.$metadata?.httpStatusCode;
          if (status) span.setAttribute("http.response.status_code", status);
          throw err;
        }
      }, SpanKind.CLIENT);
    },
    // around the whole command, retries included
    { step: "initialize", priority: "high", name: "desSpans" },
  );
  return true;
}
