// The BYOK import lifecycle through the AWS SDK for JavaScript v3 (@aws-sdk/client-kms), printed as
// one JSON object on stdout for tests/emulator/test_js_sdks.py to assert.
//
// Usage: node aws_lifecycle.mjs lifecycle|clock-skew
// Environment (all required): KMS_ENDPOINT (http://127.0.0.1:PORT), KMS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, BYOK_MATERIAL_HEX (32 bytes), BYOK_VALID_TO (Unix seconds, the material's
// expiry). clock-skew also reads BYOK_CLIENT_OFFSET_MS (the client's clock error it starts with).
// Only the given endpoint is contacted; no AWS config or credentials file is read.
import { constants, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  KMSClient,
  ListAliasesCommand,
} from "@aws-sdk/client-kms";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// Every request's X-Amz-Date, in order: what the signer used as "now".
const signedAt = [];

function client({ maxAttempts = 1, systemClockOffset = 0 } = {}) {
  const kms = new KMSClient({
    endpoint: env("KMS_ENDPOINT"),
    region: env("KMS_REGION"),
    credentials: { accessKeyId: env("AWS_ACCESS_KEY_ID"), secretAccessKey: env("AWS_SECRET_ACCESS_KEY") },
    maxAttempts,
    systemClockOffset,
  });
  kms.middlewareStack.add(
    (next) => async (args) => {
      signedAt.push(args.request.headers["x-amz-date"]);
      return next(args);
    },
    { step: "finalizeRequest", name: "recordAmzDate", priority: "low" },
  );
  return kms;
}

// RSAES_OAEP_SHA_256: OAEP with SHA-256 for both the digest and MGF1, no label.
function wrap(publicKeyDer, material) {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: "der", type: "spki" });
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, material);
}

async function importMaterial(kms, keyId, material, validTo) {
  const params = await kms.send(
    new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: "RSAES_OAEP_SHA_256",
      WrappingKeySpec: "RSA_2048",
    }),
  );
  const imported = await kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrap(params.PublicKey, material),
      ExpirationModel: "KEY_MATERIAL_EXPIRES",
      ValidTo: validTo,
    }),
  );
  return { params, imported };
}

async function errorOf(promise) {
  try {
    await promise;
  } catch (error) {
    return { name: error.name, status: error.$metadata?.httpStatusCode ?? null };
  }
  return null;
}

function describe(meta) {
  return {
    KeyId: meta.KeyId,
    Arn: meta.Arn,
    KeyState: meta.KeyState,
    Enabled: meta.Enabled,
    Origin: meta.Origin,
    ExpirationModel: meta.ExpirationModel ?? null,
    ValidTo: meta.ValidTo ? meta.ValidTo.getTime() / 1000 : null,
    CurrentKeyMaterialId: meta.CurrentKeyMaterialId ?? null,
  };
}

async function lifecycle() {
  const kms = client();
  const material = Buffer.from(env("BYOK_MATERIAL_HEX"), "hex");
  const validTo = new Date(Number(env("BYOK_VALID_TO")) * 1000);
  const created = (await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL", Description: "js" }))).KeyMetadata;
  const keyId = created.KeyId;
  const pendingEncrypt = await errorOf(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })));
  const { params, imported } = await importMaterial(kms, keyId, material, validTo);
  const described = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
  const context = { purpose: "js" };
  const encrypted = await kms.send(
    new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("hello"), EncryptionContext: context }),
  );
  const decrypted = await kms.send(
    new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
  );
  const wrongMaterial = await errorOf(importMaterial(kms, keyId, randomBytes(32), validTo));
  await kms.send(new CreateAliasCommand({ AliasName: "alias/js-byok", TargetKeyId: keyId }));
  const aliasDuplicate = await errorOf(kms.send(new CreateAliasCommand({ AliasName: "alias/js-byok", TargetKeyId: keyId })));
  const aliases = (await kms.send(new ListAliasesCommand({ KeyId: keyId }))).Aliases;
  const byAlias = (await kms.send(new DescribeKeyCommand({ KeyId: "alias/js-byok" }))).KeyMetadata;
  return {
    created: describe(created),
    pendingEncrypt,
    params: {
      publicKeyBytes: params.PublicKey.length,
      importTokenBytes: params.ImportToken.length,
      parametersValidTo: params.ParametersValidTo.getTime() / 1000,
      keyId: params.KeyId,
    },
    imported: { KeyId: imported.KeyId, KeyMaterialId: imported.KeyMaterialId ?? null },
    described: describe(described),
    encrypted: {
      KeyId: encrypted.KeyId,
      EncryptionAlgorithm: encrypted.EncryptionAlgorithm,
      blobBytes: encrypted.CiphertextBlob.length,
    },
    decrypted: { KeyId: decrypted.KeyId, Plaintext: Buffer.from(decrypted.Plaintext).toString() },
    wrongMaterial,
    aliasDuplicate,
    aliases: aliases.map((a) => ({ AliasName: a.AliasName, AliasArn: a.AliasArn, TargetKeyId: a.TargetKeyId })),
    byAlias: byAlias.KeyId,
  };
}

// The client starts BYOK_CLIENT_OFFSET_MS off the service and learns the service's time from the
// Date header: from a refused request (then retries, maxAttempts 2) or from an accepted one.
async function clockSkew() {
  const offset = Number(env("BYOK_CLIENT_OFFSET_MS"));
  const kms = client({ maxAttempts: 2, systemClockOffset: offset });
  const first = await kms.send(new CreateKeyCommand({ Origin: "EXTERNAL" }));
  const learned = await kms.config.systemClockOffset;
  const second = await kms.send(new DescribeKeyCommand({ KeyId: first.KeyMetadata.KeyId }));
  return {
    attempts: first.$metadata.attempts,
    keyState: second.KeyMetadata.KeyState,
    startOffsetMs: offset,
    learnedOffsetMs: learned,
    signedAt,
    now: Date.now() / 1000,
  };
}

const modes = { lifecycle, "clock-skew": clockSkew };
const mode = modes[process.argv[2]];
if (!mode) {
  console.error(`usage: aws_lifecycle.mjs ${Object.keys(modes).join("|")}`);
  process.exit(2);
}
console.log(JSON.stringify(await mode()));
