"""Shell completion for the `aisfs` verbs: ``eval "$(aisfs completion bash)"``."""

from __future__ import annotations

WORDS: dict[str, list[str]] = {
    "": ["bucket", "ls", "put", "get", "object", "rm", "config", "node", "show", "cluster",
         "auth", "completion", "mount", "umount"],
    "bucket": ["create", "ls", "rm", "props", "mirror"],
    "props": ["show", "set", "reset"],
    "object": ["show", "rm", "put", "get", "rename"],
    "config": ["cluster"],
    "cluster": ["show", "features", "checksum.type=", "checksum.validate_warm_get=",
                "mirror.copies=", "mirror.enabled=", "versioning.enabled="],
    "node": ["run", "fsck", "gc", "show", "status"],
    "show": ["cluster", "node"],
    "auth": ["token"],
    "completion": ["bash", "zsh"],
    "features": [
        "S3-API-via-Root", "S3-Presigned-Request", "S3-Reverse-Proxy", "S3-Use-Path-Style",
        "S3-ListObjectVersions", "Fsync-PUT", "Disable-Cold-GET", "Streaming-Cold-GET",
        "Enforce-IntraCluster-Access", "Skip-Loading-VersionChecksum-MD",
        "Do-not-Auto-Detect-FileShare", "Provide-S3-API-via-Root", "none",
    ],
}

_BASH = r"""# aisfs bash completion
_aisfs_complete() {
    local cur prev words
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
%(cases)s
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "--help --json --endpoint --token" -- "$cur") )
    fi
}
complete -o default -F _aisfs_complete aisfs
"""


def script(shell: str = "bash") -> str:
    cases = []
    for key, words in WORDS.items():
        pattern = "aisfs" if key == "" else key
        cases.append(
            f'        {pattern}) COMPREPLY=( $(compgen -W "{" ".join(words)}" -- "$cur") );'
            " return ;;"
        )
    body = _BASH % {"cases": "\n".join(cases)}
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body
