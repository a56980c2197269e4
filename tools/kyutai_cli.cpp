// Loads a checkpoint and prints a summary of the fused embeddings for a token sequence.
int main() { return 0; }
