interface SaveTreeNode { name: string; children?: SaveTreeNode[] }
interface SaveTreeInput { root: SaveTreeNode; parent?: SaveTreeInput }
interface Echo { again?: SaveTreeOutput }
interface SaveTreeOutput {
  /** @minimum 0 */ saved: number;
  tree?: Echo;
  echo?: { again?: SaveTreeOutput };
}
/** A tool error rejects with an Error holding the tool's message. */
declare const codemode: {
  /** Save a tree of categories. */
  save_tree(input: SaveTreeInput): Promise<SaveTreeOutput>;
};
