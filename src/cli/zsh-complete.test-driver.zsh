# Test driver for help-completion.test.ts: zsh -f zsh-complete.test-driver.zsh OUT SCRIPT LINE
# zsh's completion runs only inside its line editor, so SCRIPT is loaded (after compinit) into an
# interactive `zsh -f` on a pseudo-terminal (zsh/zpty) and LINE is typed with a TAB. A compadd
# wrapper appends to OUT what compsys would offer for the typed prefix (compadd -O, then the real
# compadd), and _virtkit is wrapped to append END when it returns. Waits are bounded (20 s).
zmodload zsh/zpty || exit 3
out=$1 script=$2 line=$3
zpty vk zsh -f -i
zpty -w vk "autoload -Uz compinit && compinit -u -D"
zpty -w vk "source ${(q)script}"
zpty -w vk "compadd() { local -a m; builtin compadd -O m \"\$@\"; print -rl -- \$m >> ${(q)out}; builtin compadd \"\$@\"; }"
zpty -w vk "functions[_virtkit_loaded]=\$functions[_virtkit]; _virtkit() { _virtkit_loaded \"\$@\"; print END >> ${(q)out}; }"
zpty -w vk "print READY >> ${(q)out}"
for i in {1..400}; do [[ -f $out ]] && grep -qx READY $out && break; sleep 0.05; done
# Typed only once the setup has run: keys typed ahead of a pending completion are not completed.
zpty -w -n vk "$line"$'\t'
for i in {1..400}; do grep -qx END $out && break; sleep 0.05; done
zpty -d vk
grep -qx END $out
