// Property tests are reproducible by default: every fc.assert starts from one fixed seed, so the test
// command gives the same verdict on every machine and a failure in CI reproduces locally as is. Fresh
// exploration is opt-in: TESSERA_FC_SEED=<n> replays another seed, TESSERA_FC_SEED=random draws one (fast-check
// prints it with any counterexample). The fuzz step of scripts/test.sh also runs a fresh seed every time.
import fc from 'fast-check';

const env = process.env.TESSERA_FC_SEED;
if (env !== 'random') {
  const seed = env === undefined || env === '' ? 20261127 : Number(env);
  if (!Number.isInteger(seed)) throw new Error(`TESSERA_FC_SEED must be an integer or 'random', got '${env}'`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
