// Where the fuzz tests find valid inputs: the tiny Llama folder beside the repository
// (../shared/models/tiny-llama-hf, as tests/nn use it), when it is there.

/** The tiny-llama fixture folder. */
export const TINY_LLAMA = new URL("../../../shared/models/tiny-llama-hf/", import.meta.url);

/** Whether the fixture is present (tests that need it are skipped without it, saying so). */
export function haveTinyLlama(): boolean {
  try {
    Deno.statSync(TINY_LLAMA);
    return true;
  } catch {
    console.warn(`fuzz: ${TINY_LLAMA.pathname} is missing; its fuzz tests are skipped`);
    return false;
  }
}
