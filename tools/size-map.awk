# Sums a GNU ld map's allocated input sections by where they came from:
# "part bytes" lines (fanout, mbedTLS, c-ares, libstdc++, libc and libgcc,
# other); with -v objects=1, fanout's own objects instead ("bench.o bytes";
# under LTO, the link's own units stand for them).
/^ \.[a-zA-Z_.]+/ || /^ [A-Z]+$/ {
  # " .text.foo  0xADDR 0xSIZE file" on one line, or the name alone and the rest on the next
  if (NF >= 4 && $2 ~ /^0x/ && $3 ~ /^0x/) { add($1, $3, $4) ; next }
  if (NF == 1) { pending = $1; next }
}
pending != "" && /^ +0x/ { if (NF >= 3) add(pending, $2, $3); pending = ""; next }
{ pending = "" }
function add(sec, size, file,   n, part) {
  if (sec ~ /^\.(debug|comment|note\.GNU-stack|gnu\.warning|t?bss)/ || sec == "COMMON") return  # not in the file
  n = hex(size); if (n == 0) return
  part = "other"
  if (file ~ /libcares/) part = "c-ares"
  else if (file ~ /libmbed/) part = "mbedTLS"
  else if (file ~ /libstdc\+\+|libsupc/) part = "libstdc++"
  else if (file ~ /libc\.a|libpthread|libm\.a|libresolv|libdl|crt[1in]|libgcc|libatomic/) part = "libc+libgcc"
  else if (file ~ /libfanout\.a|obj\/src\/main\.o|\.ltrans\.o/) part = "fanout"
  if (objects) {
    if (part != "fanout") return
    part = file; sub(/.*\(/, "", part); sub(/\).*/, "", part); sub(/.*\//, "", part)
    if (part ~ /\.ltrans\.o$/) part = "LTO-units(LTO=0:by-file)"
  }
  total[part] += n
}
END { for (p in total) printf "%s %d\n", p, total[p] }
function hex(s,   i, c, v) {  # "0x1a2b" -> 6699 (mawk has no strtonum)
  v = 0
  for (i = 3; i <= length(s); i++) { c = index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; v = v * 16 + c }
  return v
}
