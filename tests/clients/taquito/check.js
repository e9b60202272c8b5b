// Drives a running tezos-azure-signer with Taquito's own remote-signer client and checks
// every answer with Taquito's own signature verification. Run by tests/taquito.rs:
//   node check.js <signer url> <job json>
// where the job is {"keys": [{"pkh": "tz2…", "payloads": {"block": "11…", …}}, …]}.
// Prints one JSON line per check and exits non-zero on the first failure.
'use strict';

const { RemoteSigner } = require('@taquito/remote-signer');
const { verifySignature, b58cdecode, prefix } = require('@taquito/utils');

async function main() {
  const [url, jobText] = process.argv.slice(2);
  if (!url || !jobText) {
    throw new Error('usage: node check.js <signer url> <job json>');
  }
  const job = JSON.parse(jobText);
  for (const key of job.keys) {
    const signer = new RemoteSigner(key.pkh, url);
    const pk = await signer.publicKey();
    const pkh = await signer.publicKeyHash();
    if (pkh !== key.pkh) throw new Error(`publicKeyHash ${pkh} != ${key.pkh}`);
    const expectedPk = key.pkh.startsWith('tz2') ? 'sppk' : 'p2pk';
    if (!pk.startsWith(expectedPk)) throw new Error(`public key ${pk} is not ${expectedPk}`);
    // RemoteSigner.sign checks the pk hashes to the pkh and the signature verifies; check
    // again explicitly with @taquito/utils so a silent change in the client cannot hide a bug.
    console.log(JSON.stringify({ pkh, public_key: pk }));
    for (const [kind, hex] of Object.entries(key.payloads)) {
      const signed = await signer.sign(hex);
      const ok = verifySignature(hex, pk, signed.prefixSig);
      if (!ok) throw new Error(`${kind}: Taquito rejects signature ${signed.prefixSig}`);
      const sigPrefix = key.pkh.startsWith('tz2') ? 'spsig1' : 'p2sig';
      if (!signed.prefixSig.startsWith(sigPrefix)) {
        throw new Error(`${kind}: signature ${signed.prefixSig} is not ${sigPrefix}`);
      }
      // The generic form must carry the same 64 bytes.
      const raw = Buffer.from(b58cdecode(signed.sig, prefix.sig)).toString('hex');
      if (!signed.sbytes.endsWith(raw)) throw new Error(`${kind}: sbytes do not end with the signature`);
      console.log(JSON.stringify({ pkh, kind, signature: signed.prefixSig, verified: ok }));
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAILED: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
