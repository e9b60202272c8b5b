// Drives a running tezos-azure-signer Key Vault emulator with Microsoft's own Node SDK
// (@azure/keyvault-keys + @azure/identity): import, list, get and sign, authenticated by the
// App Service managed-identity credential (default) or, with SMOKE_CREDENTIAL=client-secret,
// the client-secret credential against the emulator's Entra endpoint (AZURE_AUTHORITY_HOST).
// Run by tests/emulator_node.rs with the emulator's `--print-env` variables plus
// NODE_EXTRA_CA_CERTS; prints one JSON document on stdout that the Rust test checks (it
// verifies the signatures). Loopback only.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { ClientSecretCredential, ManagedIdentityCredential } from "@azure/identity";
import { CryptographyClient, KeyClient } from "@azure/keyvault-keys";

const env = process.env;
const vaultUrl = env.AZURE_KEYVAULT_URI;
const clientSecret = env.SMOKE_CREDENTIAL === "client-secret";
const needed = clientSecret
  ? ["AZURE_KEYVAULT_URI", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"]
  : ["AZURE_KEYVAULT_URI", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"];
const missing = needed.filter((k) => !env[k]);
if (missing.length > 0) {
  console.error(`smoke.mjs: set ${missing.join(", ")}`);
  process.exit(2);
}
const options = { disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } };
const credential = clientSecret
  ? new ClientSecretCredential(env.AZURE_TENANT_ID, env.AZURE_CLIENT_ID, env.AZURE_CLIENT_SECRET, {
      authorityHost: env.AZURE_AUTHORITY_HOST,
      disableInstanceDiscovery: true,
    })
  : new ManagedIdentityCredential();
const client = new KeyClient(vaultUrl, credential, options);

const curves = [
  { name: "node-tz2", nodeCurve: "secp256k1", crv: "P-256K", alg: "ES256K" },
  { name: "node-tz3", nodeCurve: "prime256v1", crv: "P-256", alg: "ES256" },
];

const b64 = (u8) => Buffer.from(u8).toString("base64url");
const result = { imported: [], listed: [], signatures: [] };

for (const c of curves) {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: c.nodeCurve });
  const jwk = privateKey.export({ format: "jwk" });
  const key = {
    kty: "EC",
    crv: c.crv,
    x: Buffer.from(jwk.x, "base64url"),
    y: Buffer.from(jwk.y, "base64url"),
    d: Buffer.from(jwk.d, "base64url"),
    keyOps: ["sign", "verify"],
  };
  const imported = await client.importKey(c.name, key, { hardwareProtected: true });
  const got = await client.getKey(c.name);
  if (got.id !== imported.id) throw new Error(`getKey ${c.name}: ${got.id} != ${imported.id}`);
  if (b64(got.key.x) !== jwk.x || b64(got.key.y) !== jwk.y) throw new Error(`getKey ${c.name}: public key differs`);
  if (got.key.d !== undefined) throw new Error(`getKey ${c.name}: private key returned`);
  result.imported.push({ name: c.name, id: imported.id, kty: imported.keyType, crv: got.key.crv, x: jwk.x, y: jwk.y });

  const crypto = new CryptographyClient(got, credential, options);
  for (let i = 0; i < 4; i++) {
    const digest = randomBytes(32);
    const signed = await crypto.sign(c.alg, digest);
    result.signatures.push({ name: c.name, crv: c.crv, alg: signed.algorithm, kid: signed.keyID, digest: b64(digest), signature: b64(signed.result) });
  }
}

for await (const props of client.listPropertiesOfKeys()) {
  result.listed.push({ name: props.name, enabled: props.enabled });
}
console.log(JSON.stringify(result));
