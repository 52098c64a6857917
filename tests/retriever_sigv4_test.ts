import { assertEquals } from "./_helpers/assert.ts";
import {
  EMPTY_PAYLOAD_SHA256,
  SigV4Signer,
  uriEncodePath,
  uriEncodeSegment,
} from "../retriever/sigv4.ts";

Deno.test("SigV4: the GET-with-Range example of the AWS S3 documentation", () => {
  const signer = new SigV4Signer({
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
  });
  const headers = signer.sign({
    method: "GET",
    host: "examplebucket.s3.amazonaws.com",
    path: "/test.txt",
    headers: { range: "bytes=0-9" },
    date: new Date(Date.UTC(2013, 4, 24)),
  });
  assertEquals(headers["x-amz-content-sha256"], EMPTY_PAYLOAD_SHA256);
  assertEquals(headers["x-amz-date"], "20130524T000000Z");
  assertEquals(headers.host, undefined);
  assertEquals(
    headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

Deno.test("SigV4: the presigned URL example of the AWS S3 documentation", () => {
  const signer = new SigV4Signer({
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
  });
  const url = signer.presignGet({
    host: "examplebucket.s3.amazonaws.com",
    path: "/test.txt",
    date: new Date(Date.UTC(2013, 4, 24)),
    expiresSeconds: 86400,
  });
  assertEquals(
    url,
    "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
  );
});

Deno.test("SigV4: S3 URI encoding of paths", () => {
  assertEquals(uriEncodeSegment("a b+c*d'(e)!~._-"), "a%20b%2Bc%2Ad%27%28e%29%21~._-");
  assertEquals(uriEncodePath("/bucket/dir/ä.des"), "/bucket/dir/%C3%A4.des");
  assertEquals(
    uriEncodePath("/bucket/containers/0007/ab-c_d.~x.des"),
    "/bucket/containers/0007/ab-c_d.~x.des",
  );
  assertEquals(uriEncodePath("/bucket/a b/c+d"), "/bucket/a%20b/c%2Bd");
});
