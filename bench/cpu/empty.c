/* Does nothing: measures the start-up cost of a run (QEMU process, ELF loading). */
int main(void) { return 0; }
