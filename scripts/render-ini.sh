#!/usr/bin/env bash
# Set keys in an orderd INI file, leaving everything else (comments included) as it is.
#
#   scripts/render-ini.sh --in config/orderd.ini --out FILE --set section.key=value [--set ...]
#
#   --in FILE     source INI (`-` for none: start from an empty file).
#   --out FILE    where to write (`-` for stdout); may be the same file as --in.
#   --set S.K=V   set key K of section [S] to V (V may contain '=' and spaces; written as `K = V`,
#                 with V in double quotes (single if it has a double quote) when it holds ; or #
#                 or starts or ends with a blank, as orderd's INI syntax wants).
#                 In section [S], the first active `K =` line is replaced (later active duplicates
#                 are dropped, so the set value wins); else the first commented `; K =` / `# K =`
#                 line is replaced; else `K = V` is added after the section's last setting; a missing
#                 section is appended at the end of the file. Repeating --set for one key: last wins.
#
# Deterministic: the same input and arguments give byte-identical output.
set -euo pipefail

die() { echo "render-ini: $*" >&2; exit 2; }

IN="" OUT=""
SETS=$(mktemp)
trap 'rm -f "$SETS" "${TMP_OUT:-}"' EXIT
while [ $# -gt 0 ]; do
    case "$1" in
        --in) IN=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --set)
            spec=${2:?}; shift 2
            case "$spec" in *=*) ;; *) die "--set needs section.key=value, got '$spec'" ;; esac
            lhs=${spec%%=*}; val=${spec#*=}
            case "$lhs" in *.*) ;; *) die "--set needs section.key=value, got '$spec'" ;; esac
            sec=${lhs%.*}; key=${lhs##*.}
            [[ "$sec" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad section name '$sec'"
            [[ "$key" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad key name '$key'"
            case "$val" in *$'\n'*|*$'\t'*) die "value for $lhs must not contain a newline or tab" ;; esac
            printf '%s\t%s\t%s\n' "$sec" "$key" "$val" >> "$SETS"
            ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[ -n "$IN" ] || die "--in is required"
[ -n "$OUT" ] || die "--out is required"
if [ "$IN" = - ]; then IN=/dev/null; else [ -r "$IN" ] || die "cannot read $IN"; fi

TMP_OUT=$(mktemp)
awk -F '\t' '
    # pass 1: the --set list
    FNR == NR {
        if (!(($1, $2) in IDX)) { IDX[$1, $2] = ++n; S[n] = $1; K[n] = $2 }
        V[IDX[$1, $2]] = substr($0, length($1) + length($2) + 3)   # repeated key: last wins
        next
    }

    # orderd INI quoting: a value with ; or #, or blanks at either end, is written in quotes.
    function quote(v) {
        if (v !~ /[;#]/ && v !~ /^[ \t]/ && v !~ /[ \t]$/) return v
        return (index(v, "\"") == 0) ? "\"" v "\"" : "\047" v "\047"
    }

    # pass 2: the INI, kept in memory
    { L[++m] = $0 }
    END {
        sec = ""
        for (i = 1; i <= m; i++) {
            line = L[i]
            if (line ~ /^[ \t]*\[[^]]*\][ \t]*([;#].*)?$/) {
                s = line; sub(/^[ \t]*\[[ \t]*/, "", s); sub(/[ \t]*\].*$/, "", s)
                sec = s; secseen[sec] = 1; lastin[sec] = i; continue
            }
            LS[i] = sec
            if (line ~ /^[ \t]*$/) continue
            if (line ~ /^[ \t]*[;#]/) {
                c = line; sub(/^[ \t]*[;#][ \t]*/, "", c)
                if (c ~ /^[A-Za-z0-9_.-]+[ \t]*=/) { k = c; sub(/[ \t]*=.*$/, "", k); if (!((sec, k) in firstcomment)) firstcomment[sec, k] = i }
                continue
            }
            lastin[sec] = i   # last setting (non-comment, non-blank) line of the section
            if (line ~ /^[ \t]*[A-Za-z0-9_.-]+[ \t]*=/) {
                k = line; sub(/^[ \t]*/, "", k); sub(/[ \t]*=.*$/, "", k)
                if ((sec, k) in firstactive) dupactive[i] = 1
                else firstactive[sec, k] = i
                ACTK[i] = k
            }
        }
        for (j = 1; j <= n; j++) {
            sec = S[j]; k = K[j]; newline = k " = " quote(V[j])
            if ((sec, k) in firstactive) {
                i = firstactive[sec, k]; R[i] = newline; replaced[i] = 1
                for (x = 1; x <= m; x++) if (dupactive[x] && LS[x] == sec && ACTK[x] == k) drop[x] = 1
            } else if ((sec, k) in firstcomment) {
                i = firstcomment[sec, k]; R[i] = newline; replaced[i] = 1
            } else if (sec in secseen) {
                i = lastin[sec]; AFTER[i] = AFTER[i] newline "\n"
            } else {
                if (!(sec in newsec)) { newsec[sec] = ++nn; NEWNAME[nn] = sec }
                NEWBODY[newsec[sec]] = NEWBODY[newsec[sec]] newline "\n"
            }
        }
        for (i = 1; i <= m; i++) {
            if (drop[i]) continue
            if (replaced[i]) print R[i]; else print L[i]
            if (i in AFTER) printf "%s", AFTER[i]
        }
        for (x = 1; x <= nn; x++) {
            if (m > 0 || x > 1) print ""
            print "[" NEWNAME[x] "]"
            printf "%s", NEWBODY[x]
        }
    }' "$SETS" "$IN" > "$TMP_OUT"

if [ "$OUT" = - ]; then cat "$TMP_OUT"; else mkdir -p "$(dirname "$OUT")"; cat "$TMP_OUT" > "$OUT"; fi
