// The BYOK import lifecycle through Alibaba Cloud's JavaScript SDKs, printed as one JSON object on
// stdout for tests/emulator/test_js_sdks.py to assert.
//
// Usage: node alibaba_lifecycle.mjs openapi SIGNATURE_ALGORITHM | legacy
//   openapi: @alicloud/openapi-client, the runtime of the current generated kms20160120 client (2.x,
//            published as TypeScript source on GitHub, not on npm): every method of that client is
//            one callApi with the Params below, which this driver makes. SIGNATURE_ALGORITHM is
//            ACS3-HMAC-SHA256 (the SDK's default), ACS3-HMAC-SM3 or v2.
//   legacy:  @alicloud/kms20160120 1.2.0 (the newest on npm), on @alicloud/rpc-client: signature v1.
// Environment (all required): KMS_ENDPOINT (127.0.0.1:PORT), KMS_REGION, ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET, BYOK_MATERIAL_HEX (32 bytes), BYOK_EXPIRE_UNIX (the expiry, seconds).
import { constants, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function config() {
  return {
    accessKeyId: env("ALIBABA_CLOUD_ACCESS_KEY_ID"),
    accessKeySecret: env("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    endpoint: env("KMS_ENDPOINT"),
    regionId: env("KMS_REGION"),
    protocol: "http",
  };
}

// An SDK error as data: the code the service sent, the HTTP status, and what the SDK made of the code.
class ApiError extends Error {
  constructor(code, status, sdkCode) {
    super(`${code} (${status})`);
    Object.assign(this, { code, status, sdkCode });
  }
}

// call(action, params) -> the response body as the service's field names.
function openapiCaller(signatureAlgorithm) {
  const { default: OpenApi, Config, OpenApiRequest, Params } = require("@alicloud/openapi-client");
  const { default: OpenApiUtil } = require("@alicloud/openapi-util");
  const { RuntimeOptions } = require("@alicloud/tea-util");
  const client = new OpenApi(new Config({ ...config(), signatureAlgorithm }));
  return async (action, query) => {
    const params = new Params({
      action,
      version: "2016-01-20",
      protocol: "HTTPS",
      pathname: "/",
      method: "POST",
      authType: "AK",
      style: "RPC",
      reqBodyType: "formData",
      bodyType: "json",
    });
    try {
      const response = await client.callApi(
        params,
        new OpenApiRequest({ query: OpenApiUtil.query(query) }),
        new RuntimeOptions({ autoretry: false }),
      );
      return response.body;
    } catch (error) {
      if (!error.data) throw error;
      throw new ApiError(error.data.Code ?? error.code, error.data.statusCode ?? error.statusCode, error.code);
    }
  };
}

function legacyCaller() {
  const sdk = require("@alicloud/kms20160120");
  const client = new sdk.default(config());
  return async (action, query) => {
    const method = action[0].toLowerCase() + action.slice(1);
    const fields = Object.fromEntries(Object.entries(query).map(([k, v]) => [k[0].toLowerCase() + k.slice(1), v]));
    try {
      return (await client[method](new sdk[`${action}Request`](fields))).toMap();
    } catch (error) {
      if (!error.data) throw error;
      // rpc-client puts the status only in the message ("InvalidKeyMaterialError: code: 400, ...")
      // and appends "Error" to the service's code.
      const status = Number(/: code: (\d+),/.exec(error.message)?.[1] ?? NaN);
      throw new ApiError(error.data.Code, status, error.code);
    }
  };
}

// RSAES_OAEP_SHA_256: OAEP with SHA-256 for both the digest and MGF1, no label.
function wrap(publicKeyBase64, material) {
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, "base64"), format: "der", type: "spki" });
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" }, material);
}

async function importMaterial(call, keyId, material, expireUnix) {
  const params = await call("GetParametersForImport", {
    KeyId: keyId,
    WrappingAlgorithm: "RSAES_OAEP_SHA_256",
    WrappingKeySpec: "RSA_2048",
  });
  const imported = await call("ImportKeyMaterial", {
    KeyId: keyId,
    ImportToken: params.ImportToken,
    EncryptedKeyMaterial: wrap(params.PublicKey, material).toString("base64"),
    KeyMaterialExpireUnix: expireUnix,
  });
  return { params, imported };
}

async function errorOf(promise) {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.code, status: error.status, sdkCode: error.sdkCode };
  }
  return null;
}

function describe(meta) {
  const fields = ["KeyId", "Arn", "KeyState", "Origin", "MaterialExpireTime", "KeyUsage", "KeySpec"];
  return Object.fromEntries(fields.map((name) => [name, meta[name] ?? null]));
}

async function lifecycle(call) {
  const material = Buffer.from(env("BYOK_MATERIAL_HEX"), "hex");
  const expireUnix = Number(env("BYOK_EXPIRE_UNIX"));
  const created = (await call("CreateKey", { Origin: "EXTERNAL", Description: "js" })).KeyMetadata;
  const keyId = created.KeyId;
  const pendingEncrypt = await errorOf(call("Encrypt", { KeyId: keyId, Plaintext: "x" }));
  const { params, imported } = await importMaterial(call, keyId, material, expireUnix);
  const described = (await call("DescribeKey", { KeyId: keyId })).KeyMetadata;
  const encrypted = await call("Encrypt", { KeyId: keyId, Plaintext: "hello" });
  const decrypted = await call("Decrypt", { CiphertextBlob: encrypted.CiphertextBlob });
  const wrongMaterial = await errorOf(importMaterial(call, keyId, randomBytes(32), expireUnix));
  await call("CreateAlias", { AliasName: "alias/js-byok", KeyId: keyId });
  const aliasDuplicate = await errorOf(call("CreateAlias", { AliasName: "alias/js-byok", KeyId: keyId }));
  const aliases = await call("ListAliases", { PageNumber: 1, PageSize: 10 });
  const missingKey = await errorOf(call("DescribeKey", { KeyId: "key-missing" }));
  await call("CreateSecret", { SecretName: "js/byok", VersionId: "v1", SecretData: material.toString("base64"), SecretDataType: "binary" });
  const secret = await call("GetSecretValue", { SecretName: "js/byok" });
  const missingSecret = await errorOf(call("GetSecretValue", { SecretName: "js/none" }));
  return {
    created: describe(created),
    pendingEncrypt,
    params: {
      KeyId: params.KeyId,
      publicKeyBytes: Buffer.from(params.PublicKey, "base64").length,
      tokenLength: params.ImportToken.length,
      TokenExpireTime: params.TokenExpireTime,
    },
    imported: Object.keys(imported).sort(),
    described: describe(described),
    encrypted: { KeyId: encrypted.KeyId, KeyVersionId: encrypted.KeyVersionId, blobLength: encrypted.CiphertextBlob.length },
    decrypted: { KeyId: decrypted.KeyId, Plaintext: decrypted.Plaintext },
    wrongMaterial,
    aliasDuplicate,
    aliases: { TotalCount: aliases.TotalCount, Alias: aliases.Aliases.Alias },
    missingKey,
    secret: {
      SecretName: secret.SecretName,
      VersionId: secret.VersionId,
      SecretDataType: secret.SecretDataType,
      matches: secret.SecretData === material.toString("base64"),
      VersionStages: secret.VersionStages,
    },
    missingSecret,
  };
}

const [sdk, signatureAlgorithm] = process.argv.slice(2);
if (sdk === "openapi" && signatureAlgorithm) {
  console.log(JSON.stringify(await lifecycle(openapiCaller(signatureAlgorithm))));
} else if (sdk === "legacy") {
  console.log(JSON.stringify(await lifecycle(legacyCaller())));
} else {
  console.error("usage: alibaba_lifecycle.mjs openapi SIGNATURE_ALGORITHM | legacy");
  process.exit(2);
}
