// Writes tests/vectors/forged.json: operations forged by Taquito's local
// forger and Micheline expressions in their binary form, so the Rust decoder
// tests can compare against a real Tezos library without running Node.
//
//   cd tests/clients/forging && npm ci && node make_fixtures.mjs
//
// Deterministic: every key, address and value below is fixed or derived from
// a fixed seed; running the script twice gives the same file byte for byte.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import localForging from '@taquito/local-forging';
import michelCodec from '@taquito/michel-codec';
import * as tu from '@taquito/utils';
import { bls12_381 } from '@noble/curves/bls12-381';
import { ed25519 } from '@noble/curves/ed25519';

const { LocalForger, ProtocolsHash, getCodec, CODEC } = localForging;
const { packData, unpackData } = michelCodec;

const OUT = fileURLToPath(new URL('../../vectors/forged.json', import.meta.url));
const pkgVersion = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;

// The newest protocol the forger knows (025 Ushuaia); also its default.
const PROTOCOL = ProtocolsHash.PsUshuai9;
const forger = new LocalForger(PROTOCOL);

const problems = [];
const note = (msg) => {
  problems.push(msg);
};

// ---------------------------------------------------------------- keys -----

const seed = (label) => createHash('sha256').update(`tezos-azure-signer forged.json ${label}`).digest();

function edKey(label) {
  const pk = tu.b58Encode(ed25519.getPublicKey(seed(label)), tu.PrefixV2.Ed25519PublicKey);
  return { pk, pkh: tu.getPkhfromPk(pk) };
}

const bls = bls12_381.longSignatures; // min-pk, as Tezos tz4
function blsKey(label) {
  const sk = seed(label);
  sk[0] &= 0x3f; // keep it below the group order
  const pkBytes = bls.getPublicKey(sk).toBytes(true);
  const pk = tu.b58Encode(pkBytes, tu.PrefixV2.BLS12_381PublicKey);
  // Proof of possession: the key's own bytes signed with the POP DST.
  const popBytes = bls.sign(bls.hash(pkBytes, tu.POP_DST), sk).toBytes(true);
  const proof = tu.b58Encode(popBytes, tu.PrefixV2.BLS12_381Signature);
  if (!tu.verifySignature(tu.buf2hex(pkBytes), pk, proof, undefined, true)) {
    throw new Error(`proof of possession for ${label} does not verify`);
  }
  return { pk, pkh: tu.getPkhfromPk(pk), proof };
}

// secp256k1 and p256 keys from tests/vectors/keys.json (Octez key vectors).
function fixedKey(pk, pkh) {
  if (tu.getPkhfromPk(pk) !== pkh) throw new Error(`${pk} does not hash to ${pkh}`);
  return { pk, pkh };
}

const ED1 = edKey('ed25519 1');
const ED2 = edKey('ed25519 2');
const SP1 = fixedKey('sppk7aFpmJLm3ZxMd3F4osvGBq77R1NeSpiJVnof3Wiv4mt84EBE9aX', 'tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt');
const SP2 = fixedKey('sppk7aqSksZan1AGXuKtCz9UBLZZ77e3ZWGpFxR7ig1Z17GneEhSSbH', 'tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD');
const P21 = fixedKey('p2pk66Y3178eHvgWFA4CDsgGPhbkWtwrYCVUKJnsAi41eGP7MbHKv24', 'tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t');
const P22 = fixedKey('p2pk66tTYL5EvahKAXncbtbRPBkAnxo3CszzUho5wPCgWauBMyvybuB', 'tz3Lfm6CyfSTZ7EgMckptZZGiPxzs9GK59At');
const BL1 = blsKey('bls 1');
const BL2 = blsKey('bls 2 consensus');
const BL3 = blsKey('bls 3 companion');

// Well-known mainnet addresses (checksums verified below).
const TZ1_BURN = 'tz1burnburnburnburnburnburnburjAYjjX';
const TZ1_BAKER = 'tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx';
const KT1_TZBTC = 'KT1PWx2mnDueood7fEmfbBDKx1D9BAnnXitn';
const KT1_HEN = 'KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton';
const KT1_USDT = 'KT1XnTn74bUtxHfDtBmm2bGZAQfhPbvKWR8o';
const SR1_ETHERLINK = 'sr1Ghq66tYK9y3r8CC1Tf8i8m5nxh8nTvZEf';
for (const a of [TZ1_BURN, TZ1_BAKER, KT1_TZBTC, KT1_HEN, KT1_USDT, SR1_ETHERLINK]) {
  if (tu.validateAddress(a) !== tu.ValidationResult.VALID) throw new Error(`bad address ${a}`);
}

const BRANCH_GENESIS = 'BLockGenesisGenesisGenesisGenesisGenesisf79b5d1CoW2';
const BRANCH = tu.b58Encode(seed('branch'), tu.PrefixV2.BlockHash);
const BRANCH2 = tu.b58Encode(seed('branch 2'), tu.PrefixV2.BlockHash);

const PROTO_USHUAIA = 'PsUshuai9QapM5TGj1JpuVGkdxz5GykdnEvS6Rh8SUVrARvZLCY';
const PROTO_TALLINN = 'PtTALLiNtPec7mE7yY4m3k26J8Qukef3E3ehzhfXgFZKGtDdAXu';
const PROTO_SEOUL = 'PtSeouLouXkxhg39oWzjxDWaCydNfR3RxCUrNe4Q9Ro8BTehcbh';
const PROTO_RIO = 'PsRiotumaAMotcRoDWW1bysEhQy2n1M5fy8JgRp8jjRfHGmfeA7';

const hex = (label, n) => {
  let out = '';
  for (let i = 0; out.length < 2 * n; i++) out += seed(`${label} ${i}`).toString('hex');
  return out.slice(0, 2 * n);
};
const SRC1 = tu.b58Encode(seed('commitment'), tu.PrefixV2.SmartRollupCommitmentHash);
const SH1 = tu.b58Encode(Buffer.from(hex('dal commitment', 48), 'hex'), tu.PrefixV2.SlotHeader);

// ---------------------------------------------------------- Micheline ------

const prim = (p, args, annots) => {
  const o = { prim: p };
  if (args !== undefined) o.args = args;
  if (annots !== undefined) o.annots = annots;
  return o;
};
const int = (v) => ({ int: String(v) });
const str = (v) => ({ string: v });
const bytes = (v) => ({ bytes: v });
const Unit = prim('Unit');

// A small contract with annotations and an on-chain view (the view prim has
// four arguments: generic tag 0x09).
const CONTRACT = [
  prim('parameter', [
    prim('or', [prim('int', undefined, ['%increment']), prim('int', undefined, ['%decrement'])]),
  ]),
  prim('storage', [prim('int')]),
  prim('code', [
    [
      prim('UNPAIR'),
      prim('IF_LEFT', [[prim('ADD')], [prim('SWAP'), prim('SUB')]]),
      prim('NIL', [prim('operation')]),
      prim('PAIR'),
    ],
  ]),
  prim('view', [str('current'), prim('unit'), prim('int'), [prim('CDR')]]),
];
const SIMPLE_CONTRACT = [
  prim('parameter', [prim('unit')]),
  prim('storage', [prim('unit')]),
  prim('code', [[prim('CDR'), prim('NIL', [prim('operation')]), prim('PAIR')]]),
];

const MICHELINE = [
  ['int_0', int(0)],
  ['int_1', int(1)],
  ['int_minus_1', int(-1)],
  ['int_63', int(63)],
  ['int_64', int(64)],
  ['int_minus_64', int(-64)],
  ['int_minus_65', int(-65)],
  ['int_8191', int(8191)],
  ['int_8192', int(8192)],
  ['int_2_pow_70', int(2n ** 70n)],
  ['int_minus_2_pow_100', int(-(2n ** 100n))],
  ['string_empty', str('')],
  ['string_ascii', str('Hello Tezos')],
  ['string_escapes', str('quote " backslash \\ newline \n tab \t end')],
  ['string_unicode', str('ꜩ é 日本')],
  ['bytes_empty', bytes('')],
  ['bytes_nonempty', bytes('050a0000001600006b82198cb179e8306c1bedd08f12dc863f328886')],
  ['seq_empty', []],
  ['seq_ints', [int(1), int(2), int(3)]],
  ['seq_nested', [[int(1), [int(2)]], [], [[str('deep')]]]],
  ['prim_Unit', Unit],
  ['prim_True', prim('True')],
  ['prim_False', prim('False')],
  ['prim_None', prim('None')],
  ['prim_Some', prim('Some', [int(42)])],
  ['prim_Left', prim('Left', [str('left')])],
  ['prim_Right', prim('Right', [bytes('ff')])],
  ['prim_Pair', prim('Pair', [int(7), str('seven')])],
  ['pair_nested', prim('Pair', [prim('Pair', [int(1), int(2)]), prim('Pair', [prim('Some', [Unit]), prim('None')])])],
  ['pair_comb_3_args', prim('Pair', [int(1), str('two'), bytes('03')])],
  ['list_of_pairs', [prim('Pair', [str(TZ1_BAKER), int(100)]), prim('Pair', [str(KT1_TZBTC), int(-5)])]],
  ['map_elts', [prim('Elt', [str('a'), int(1)]), prim('Elt', [str('b'), prim('Some', [int(2)])])]],
  ['lambda_code', [prim('DUP'), prim('CAR'), prim('SWAP'), prim('CDR'), prim('ADD'), prim('NIL', [prim('operation')]), prim('PAIR')]],
  ['instr_LAMBDA_3_args', prim('LAMBDA', [prim('int'), prim('int'), [prim('PUSH', [prim('int'), int(1)]), prim('ADD')]])],
  ['instr_PUSH_DIP', [prim('PUSH', [prim('mutez'), int(1000000)]), prim('DIP', [int(2), [prim('DROP')]]), prim('DUG', [int(3)])]],
  ['type_annots_on_args', prim('pair', [prim('nat', undefined, ['%a']), prim('string', undefined, [':b', '@c'])])],
  ['prim_no_args_annots', prim('nat', undefined, [':amount'])],
  ['prim_1_arg_annots', prim('option', [prim('address')], ['%delegate'])],
  ['prim_2_args_annots', prim('pair', [prim('address', undefined, ['%from']), prim('nat', undefined, ['%value'])], [':transfer', '%params'])],
  ['type_comb_3_args_annots', prim('pair', [prim('int'), prim('nat'), prim('string')], ['%triple'])],
  ['type_big_map', prim('big_map', [prim('address'), prim('pair', [prim('nat', undefined, ['%balance']), prim('map', [prim('address'), prim('nat')], ['%approvals'])])], ['%ledger'])],
  ['instr_annots', [prim('CAR', undefined, ['@param']), prim('PUSH', [prim('string', undefined, [':label']), str('x')], ['@lit'])]],
  ['ticket_4_args', prim('Ticket', [str(KT1_HEN), prim('nat'), int(1), int(10)])],
  ['script_simple', SIMPLE_CONTRACT],
  ['script_with_view', CONTRACT],
];

// Binary Micheline the Octez way (michel-codec's packData, minus the 0x05
// PACK prefix), and the local forger's encoding of the same value.
const packHex = (expr) => tu.buf2hex(packData(expr)).replace(/^05/, '');
const valueCodec = getCodec(CODEC.VALUE, PROTOCOL); // 4-byte length + value
const forgerHex = (expr) => valueCodec.encoder(expr).slice(8);
const forgerParse = (h) => valueCodec.decoder((h.length / 2).toString(16).padStart(8, '0') + h);

const micheline = [];
const notData = [];
for (const [name, expr] of MICHELINE) {
  const h = packHex(expr);
  const lfh = forgerHex(expr);
  if (lfh !== h) note(`micheline ${name}: local-forging encodes ${lfh}, michel-codec ${h}`);
  // unpackData only accepts Michelson data: types and scripts are skipped.
  let back;
  try {
    back = unpackData(tu.hex2buf('05' + h));
  } catch (e) {
    if (e.name !== 'MichelsonValidationError') throw e;
    notData.push(name);
  }
  if (back !== undefined && !isDeepStrictEqual(back, expr)) {
    note(`micheline ${name}: michel-codec unpack gives ${JSON.stringify(back)}`);
  }
  let lfBack;
  try {
    lfBack = forgerParse(h);
  } catch (e) {
    lfBack = `error ${e.message}`;
  }
  if (!isDeepStrictEqual(lfBack, expr)) note(`micheline ${name}: local-forging decodes to ${JSON.stringify(lfBack)}`);
  micheline.push({ name, expr, hex: h });
}

// ---------------------------------------------------------- operations -----

let counterSeq = 0;
// Distinct manager fields per operation; `big` gives large values.
function mgr(source, big = false) {
  counterSeq += 1;
  if (big) {
    return { source, fee: '57024931117', counter: String(9451117 + counterSeq), gas_limit: '1040000', storage_limit: '60000' };
  }
  return {
    source,
    fee: String(300 + 17 * counterSeq),
    counter: String(1000 + counterSeq),
    gas_limit: String(1000 + 101 * counterSeq),
    storage_limit: String(counterSeq % 3 === 0 ? 0 : 67 * counterSeq),
  };
}

const OPS = [];
const op = (name, contents, branch = BRANCH) => OPS.push([name, { branch, contents }]);

// reveal
op('reveal_edpk', [{ kind: 'reveal', ...mgr(ED1.pkh), public_key: ED1.pk }]);
op('reveal_sppk', [{ kind: 'reveal', ...mgr(SP1.pkh), public_key: SP1.pk }]);
op('reveal_p2pk', [{ kind: 'reveal', ...mgr(P21.pkh), public_key: P21.pk }]);
op('reveal_blpk_with_proof', [{ kind: 'reveal', ...mgr(BL1.pkh), public_key: BL1.pk, proof: BL1.proof }]);
op('reveal_edpk_large_values', [{ kind: 'reveal', ...mgr(ED2.pkh, true), public_key: ED2.pk }], BRANCH_GENESIS);

// transactions to implicit accounts
op('transaction_tz1_to_tz1', [{ kind: 'transaction', ...mgr(ED1.pkh), amount: '1000000', destination: ED2.pkh }]);
op('transaction_tz2_to_tz2_amount_0', [{ kind: 'transaction', ...mgr(SP1.pkh), amount: '0', destination: SP2.pkh }]);
op('transaction_tz3_to_tz3_huge_amount', [{ kind: 'transaction', ...mgr(P21.pkh, true), amount: '9007199254740993', destination: P22.pkh }]);
op('transaction_tz4_to_tz1_burn', [{ kind: 'transaction', ...mgr(BL1.pkh), amount: '1', destination: TZ1_BURN }]);
op('transaction_tz1_to_tz4', [{ kind: 'transaction', ...mgr(ED2.pkh), amount: '9451117', destination: BL1.pkh }]);

// transactions to contracts, one per entrypoint tag and some named ones
const call = (name, source, destination, entrypoint, value, amount = '0', big = false) =>
  op(name, [{ kind: 'transaction', ...mgr(source, big), amount, destination, parameters: { entrypoint, value } }]);

call('transaction_kt1_default_int', ED1.pkh, KT1_HEN, 'default', int(42));
call('transaction_kt1_default_unit_elided', ED1.pkh, KT1_HEN, 'default', Unit, '5');
call('transaction_kt1_root', SP1.pkh, KT1_HEN, 'root', prim('Left', [str('hello')]));
call('transaction_kt1_do_lambda', ED1.pkh, KT1_USDT, 'do', [
  prim('DROP'),
  prim('NIL', [prim('operation')]),
  prim('PUSH', [prim('key_hash'), str(TZ1_BAKER)]),
  prim('SOME'),
  prim('SET_DELEGATE'),
  prim('CONS'),
]);
call('transaction_kt1_set_delegate', ED2.pkh, KT1_USDT, 'set_delegate', str(TZ1_BAKER));
call('transaction_kt1_remove_delegate', ED2.pkh, KT1_USDT, 'remove_delegate', Unit);
call('transaction_kt1_deposit', P21.pkh, KT1_TZBTC, 'deposit', Unit, '2500000');
call('transaction_self_stake', ED1.pkh, ED1.pkh, 'stake', Unit, '6000000000');
call('transaction_self_unstake', ED1.pkh, ED1.pkh, 'unstake', Unit, '9007199254740993', true);
call('transaction_self_finalize_unstake', SP1.pkh, SP1.pkh, 'finalize_unstake', Unit);
call('transaction_self_set_delegate_parameters', BL1.pkh, BL1.pkh, 'set_delegate_parameters', prim('Pair', [int(4000000), prim('Pair', [int(20000000), Unit])]));
call('transaction_kt1_transfer_fa12', ED1.pkh, KT1_TZBTC, 'transfer', prim('Pair', [str(ED1.pkh), prim('Pair', [str(SP2.pkh), int(100000000)])]));
call('transaction_kt1_transfer_fa2_list', SP2.pkh, KT1_HEN, 'transfer', [
  prim('Pair', [str(SP2.pkh), [prim('Pair', [str(ED2.pkh), prim('Pair', [int(0), int(1)])]), prim('Pair', [str(BL1.pkh), prim('Pair', [int(152), int(3)])])]]),
]);
call('transaction_kt1_update_operators', P22.pkh, KT1_HEN, 'update_operators', [
  prim('Left', [prim('Pair', [str(P22.pkh), prim('Pair', [str(KT1_TZBTC), int(7)])])]),
  prim('Right', [prim('Pair', [str(P22.pkh), prim('Pair', [str(KT1_TZBTC), int(8)])])]),
]);
call('transaction_kt1_entrypoint_31_chars', ED2.pkh, KT1_USDT, 'a_very_long_entrypoint_name_31c', prim('Some', [bytes('cafe')]));
call('transaction_kt1_unicode_string', SP1.pkh, KT1_HEN, 'mint', prim('Pair', [str('ꜩ é 日本'), bytes('')]), '0', true);
call('transaction_kt1_negative_big_int', P21.pkh, KT1_USDT, 'set_value', int(-(2n ** 100n)));
call('transaction_sr1_bytes', ED1.pkh, SR1_ETHERLINK, 'default', bytes(hex('rollup payload', 41)));

// origination
op('origination_with_delegate', [
  { kind: 'origination', ...mgr(ED1.pkh), balance: '0', delegate: TZ1_BAKER, script: { code: SIMPLE_CONTRACT, storage: Unit } },
]);
op('origination_without_delegate_view', [
  { kind: 'origination', ...mgr(SP1.pkh, true), balance: '9007199254740993', script: { code: CONTRACT, storage: int(-65) } },
]);
op('origination_tz4_delegate', [
  { kind: 'origination', ...mgr(BL1.pkh), balance: '1000000', delegate: BL1.pkh, script: { code: SIMPLE_CONTRACT, storage: Unit } },
]);

// delegation
op('delegation_self_tz1', [{ kind: 'delegation', ...mgr(ED1.pkh), delegate: ED1.pkh }]);
op('delegation_tz2_to_baker', [{ kind: 'delegation', ...mgr(SP1.pkh), delegate: TZ1_BAKER }]);
op('delegation_tz4', [{ kind: 'delegation', ...mgr(BL1.pkh), delegate: BL1.pkh }]);
op('delegation_withdrawal', [{ kind: 'delegation', ...mgr(P21.pkh) }]);

// register_global_constant
op('register_global_constant_pair', [{ kind: 'register_global_constant', ...mgr(ED1.pkh), value: prim('Pair', [int(1), str('constant')]) }]);
op('register_global_constant_code', [
  { kind: 'register_global_constant', ...mgr(SP2.pkh, true), value: [prim('DUP'), prim('CAR'), prim('DIP', [[prim('CDR')]]), prim('ADD')] },
]);

// set_deposits_limit
op('set_deposits_limit_some', [{ kind: 'set_deposits_limit', ...mgr(ED1.pkh), limit: '1000000000' }]);
op('set_deposits_limit_none', [{ kind: 'set_deposits_limit', ...mgr(ED2.pkh) }]);

// increase_paid_storage (amounts kept below 64: see the report on Z vs N)
op('increase_paid_storage_small', [{ kind: 'increase_paid_storage', ...mgr(ED1.pkh), amount: '42', destination: KT1_HEN }]);
op('increase_paid_storage_63', [{ kind: 'increase_paid_storage', ...mgr(P22.pkh), amount: '63', destination: KT1_USDT }]);

// update_consensus_key / update_companion_key
op('update_consensus_key_edpk', [{ kind: 'update_consensus_key', ...mgr(ED1.pkh), pk: ED2.pk }]);
op('update_consensus_key_sppk', [{ kind: 'update_consensus_key', ...mgr(P21.pkh), pk: SP2.pk }]);
op('update_consensus_key_blpk_with_proof', [{ kind: 'update_consensus_key', ...mgr(ED2.pkh), pk: BL2.pk, proof: BL2.proof }]);
op('update_companion_key_with_proof', [{ kind: 'update_companion_key', ...mgr(BL1.pkh), pk: BL3.pk, proof: BL3.proof }]);
op('update_companion_key_without_proof', [{ kind: 'update_companion_key', ...mgr(ED1.pkh, true), pk: BL3.pk }]);

// transfer_ticket
op('transfer_ticket_to_kt1', [
  {
    kind: 'transfer_ticket',
    ...mgr(ED1.pkh),
    ticket_contents: str('ticket payload'),
    ticket_ty: prim('string'),
    ticket_ticketer: KT1_HEN,
    ticket_amount: '9451117',
    destination: KT1_USDT,
    entrypoint: 'receive_ticket',
  },
]);
op('transfer_ticket_pair_to_tz1', [
  {
    kind: 'transfer_ticket',
    ...mgr(SP1.pkh, true),
    ticket_contents: prim('Pair', [int(1), bytes('00ff')]),
    ticket_ty: prim('pair', [prim('nat'), prim('bytes')]),
    ticket_ticketer: KT1_TZBTC,
    ticket_amount: '57024931117',
    destination: ED2.pkh,
    entrypoint: 'default',
  },
]);

// drain_delegate
op('drain_delegate', [{ kind: 'drain_delegate', consensus_key: ED2.pkh, delegate: ED1.pkh, destination: SP1.pkh }]);
op('drain_delegate_tz4_consensus', [{ kind: 'drain_delegate', consensus_key: BL2.pkh, delegate: TZ1_BAKER, destination: P22.pkh }]);

// ballot / proposals
op('ballot_yay', [{ kind: 'ballot', source: ED1.pkh, period: 0, proposal: PROTO_USHUAIA, ballot: 'yay' }]);
op('ballot_nay', [{ kind: 'ballot', source: SP1.pkh, period: 147, proposal: PROTO_TALLINN, ballot: 'nay' }]);
op('ballot_pass', [{ kind: 'ballot', source: P21.pkh, period: 2147483647, proposal: PROTO_SEOUL, ballot: 'pass' }]);
op('ballot_tz4', [{ kind: 'ballot', source: BL1.pkh, period: 150, proposal: PROTO_USHUAIA, ballot: 'yay' }]);
op('proposals_one', [{ kind: 'proposals', source: TZ1_BAKER, period: 149, proposals: [PROTO_USHUAIA] }]);
op('proposals_three', [{ kind: 'proposals', source: SP2.pkh, period: 65536, proposals: [PROTO_USHUAIA, PROTO_TALLINN, PROTO_RIO] }]);

// activate_account
op('activate_account', [{ kind: 'activate_account', pkh: ED1.pkh, secret: hex('activation secret', 20) }]);

// failing_noop
op('failing_noop', [{ kind: 'failing_noop', arbitrary: Buffer.from('Tezos Signed Message: hello', 'utf8').toString('hex') }]);
op('failing_noop_empty', [{ kind: 'failing_noop', arbitrary: '' }]);

// smart rollups and DAL
op('smart_rollup_originate_wasm', [
  { kind: 'smart_rollup_originate', ...mgr(ED1.pkh), pvm_kind: 'wasm_2_0_0', kernel: hex('kernel', 64), parameters_ty: prim('bytes') },
]);
op('smart_rollup_originate_arith_whitelist', [
  {
    kind: 'smart_rollup_originate',
    ...mgr(SP1.pkh),
    pvm_kind: 'arith',
    kernel: '',
    parameters_ty: prim('or', [prim('nat', undefined, ['%deposit']), prim('ticket', [prim('unit')], ['%withdraw'])]),
    whitelist: [ED1.pkh, BL1.pkh],
  },
]);
op('smart_rollup_add_messages', [{ kind: 'smart_rollup_add_messages', ...mgr(ED2.pkh), message: [hex('message a', 5), '', hex('message c', 33)] }]);
op('smart_rollup_execute_outbox_message', [
  {
    kind: 'smart_rollup_execute_outbox_message',
    ...mgr(P21.pkh, true),
    rollup: SR1_ETHERLINK,
    cemented_commitment: SRC1,
    output_proof: hex('output proof', 70),
  },
]);
op('dal_publish_commitment', [
  {
    kind: 'dal_publish_commitment',
    ...mgr(ED1.pkh),
    slot_header: { slot_index: 7, commitment: SH1, commitment_proof: hex('dal proof', 96) },
  },
]);

// batches
op('batch_reveal_transaction', [
  { kind: 'reveal', ...mgr(ED2.pkh), public_key: ED2.pk },
  { kind: 'transaction', ...mgr(ED2.pkh), amount: '1234567', destination: SP1.pkh },
], BRANCH2);
op('batch_tz4_reveal_delegation_call_origination', [
  { kind: 'reveal', ...mgr(BL1.pkh), public_key: BL1.pk, proof: BL1.proof },
  { kind: 'delegation', ...mgr(BL1.pkh), delegate: TZ1_BAKER },
  { kind: 'transaction', ...mgr(BL1.pkh), amount: '0', destination: KT1_TZBTC, parameters: { entrypoint: 'approve', value: prim('Pair', [str(KT1_HEN), int(0)]) } },
  { kind: 'origination', ...mgr(BL1.pkh, true), balance: '0', script: { code: SIMPLE_CONTRACT, storage: Unit } },
], BRANCH2);
op('batch_transfers', [
  { kind: 'transaction', ...mgr(SP2.pkh), amount: '1', destination: ED1.pkh },
  { kind: 'transaction', ...mgr(SP2.pkh), amount: '2', destination: P21.pkh },
  { kind: 'transaction', ...mgr(SP2.pkh), amount: '3', destination: BL1.pkh },
  { kind: 'increase_paid_storage', ...mgr(SP2.pkh), amount: '10', destination: KT1_HEN },
]);

// Micheline inside operations must encode the same with both codecs, or the
// forged operation would not match what Octez produces.
function michelineIn(c) {
  const out = [];
  if (c.parameters) out.push(c.parameters.value);
  if (c.script) out.push(c.script.code, c.script.storage);
  for (const k of ['value', 'ticket_contents', 'ticket_ty', 'parameters_ty']) if (k in c) out.push(c[k]);
  return out;
}

// What parse() is expected to return for an input (it drops elided fields).
function expectedParse(input) {
  const contents = input.contents.map((c) => {
    const e = { ...c };
    if (e.parameters && e.parameters.entrypoint === 'default' && isDeepStrictEqual(e.parameters.value, Unit)) delete e.parameters;
    return e;
  });
  return { branch: input.branch, contents };
}

const operations = [];
for (const [name, input] of OPS) {
  for (const c of input.contents) {
    for (const m of michelineIn(c)) {
      const h = forgerHex(m);
      if (!isDeepStrictEqual(forgerParse(h), m)) note(`operation ${name}: Micheline ${JSON.stringify(m)} does not round-trip`);
      // packData rewrites typed PUSH literals (key_hash, address...) to their
      // optimized bytes, as PACK does; operations carry the expression as is.
      if (h !== packHex(m)) note(`operation ${name}: michel-codec packData differs from the forged value ${JSON.stringify(m)}`);
    }
  }
  const forged = await forger.forge(input);
  if (forged.length % 2 !== 0 || !/^[0-9a-f]*$/.test(forged)) throw new Error(`${name}: bad hex`);
  let parsed;
  try {
    parsed = await forger.parse(forged);
  } catch (e) {
    note(`operation ${name}: parse fails: ${e.message}`);
  }
  if (parsed !== undefined) {
    const normalized = JSON.parse(JSON.stringify(parsed));
    if (!isDeepStrictEqual(normalized, expectedParse(input))) {
      note(`operation ${name}: parse gives ${JSON.stringify(normalized)}`);
    }
    const reforged = await forger.forge(parsed);
    if (reforged !== forged) note(`operation ${name}: forge(parse(hex)) differs`);
  }
  operations.push({ name, input, hex: forged });
}

const names = new Set();
for (const { name } of [...operations, ...micheline]) {
  if (names.has(name)) throw new Error(`duplicate name ${name}`);
  names.add(name);
}

const lfVersion = pkgVersion('@taquito/local-forging');
const mcVersion = pkgVersion('@taquito/michel-codec');
const out = {
  about:
    'Generated by tests/clients/forging/make_fixtures.mjs (npm ci && node make_fixtures.mjs). ' +
    "operations[].hex is LocalForger.forge(input) for protocol " + PROTOCOL + ' (no 0x03 watermark). ' +
    'micheline[].hex is michel-codec packData(expr) without the 0x05 prefix.',
  generator: `@taquito/local-forging ${lfVersion}, @taquito/michel-codec ${mcVersion}`,
  operations,
  micheline,
};
writeFileSync(OUT, JSON.stringify(out, null, 1) + '\n');

const kinds = [...new Set(operations.flatMap((o) => o.input.contents.map((c) => c.kind)))];
console.log(`wrote ${OUT}: ${operations.length} operations (${kinds.length} kinds), ${micheline.length} Micheline expressions`);
console.log(`kinds: ${kinds.join(', ')}`);
console.log(`not Michelson data (michel-codec unpack skipped): ${notData.join(', ')}`);
if (problems.length) {
  console.log(`\n${problems.length} differences noticed:`);
  for (const p of problems) console.log(`- ${p}`);
}
