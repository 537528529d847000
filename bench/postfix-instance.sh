#!/usr/bin/env bash
# A private, throw-away Postfix instance for the benchmark (run as root).
#
#   bench/postfix-instance.sh setup DIR PORT   lay out DIR (config, queue, data, Maildir base)
#   bench/postfix-instance.sh start DIR        postfix -c DIR/etc start; waits for the listener
#   bench/postfix-instance.sh stop  DIR        postfix -c DIR/etc stop (then kills stragglers)
#   bench/postfix-instance.sh maildir DIR      prints the Maildir that virtual(8) delivers to
#   bench/postfix-instance.sh master-pid DIR   prints the pid of the instance's master(8)
#
# Everything lives under DIR: its own config_directory (main.cf, master.cf, the meta files),
# queue_directory, data_directory, log file and virtual_mailbox_base. It never reads or writes
# the system instance's /etc/postfix beyond copying its meta files (postfix-files,
# dynamicmaps.cf, postfix-script, post-install) once, and it only listens on 127.0.0.1:PORT.
#
# Mail for u@bench.test goes to the virtual(8) transport, Maildir delivery (trailing slash) as
# the unprivileged `mail` user. Durability equals carterod's: cleanup(8) fsyncs every queue
# file before smtpd answers 250, and virtual(8) fsyncs each Maildir file before it renames it
# into new/.
set -euo pipefail

die() { echo "postfix-instance: $*" >&2; exit 1; }
# Postfix writes its fatal errors to stderr only when stderr is a terminal (else to syslog,
# which a container may not have): run it under script(1) so that they are seen.
pf() { script -qec "postfix $(printf '%q ' "$@")" /dev/null; }
[[ $(id -u) == 0 ]] || die "must run as root (Postfix's master runs as root)"
cmd=${1:-}; dir=${2:-}
[[ -n $cmd && -n $dir ]] || die "usage: $0 setup|start|stop|maildir|master-pid DIR [PORT]"
[[ $dir == /* ]] || dir=$(cd "$dir" 2>/dev/null && pwd || echo "$PWD/$dir")
[[ $dir != /etc/postfix* && $dir != / ]] || die "refusing to use $dir"
etc=$dir/etc

case $cmd in
setup)
    port=${3:?PORT needed}
    mkdir -p "$etc" "$dir/spool" "$dir/data" "$dir/log" "$dir/vmail"
    chmod 755 "$dir" # the postfix and mail users must reach spool/, data/ and vmail/
    # Meta files (the list of files and directories postfix-script checks and creates, and the
    # dynamic map plug-ins); copied so that meta_directory can point into DIR as well.
    for f in postfix-files dynamicmaps.cf postfix-script post-install; do
        [[ -e /etc/postfix/$f ]] && cp /etc/postfix/$f "$etc/"
    done
    mkdir -p "$etc/postfix-files.d" "$etc/dynamicmaps.cf.d"
    uid=$(id -u mail); gid=$(id -g mail)
    chown "$uid:$gid" "$dir/vmail"
    chown postfix "$dir/data"
    echo "u@bench.test bench.test/u/" >"$etc/vmailbox"
    cat >"$etc/main.cf" <<EOF
# Private benchmark instance (bench/postfix-instance.sh); not the system's Postfix.
compatibility_level = 3.6
config_directory = $etc
meta_directory = $etc
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.local
mydomain = bench.local
myorigin = bench.local
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# no DNS anywhere
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
# the one local mailbox: virtual(8), Maildir (trailing slash), delivered as user mail
virtual_mailbox_domains = bench.test
virtual_mailbox_maps = texthash:$etc/vmailbox
virtual_mailbox_base = $dir/vmail
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = 1
# limits out of the way (everything else is Postfix's default)
default_process_limit = 300
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
# log to a file (postlogd) like carterod logs to a file
maillog_file = $dir/log/postfix.log
maillog_file_prefixes = $dir/log
EOF
    cat >"$etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    pf -c "$etc" check >&2
    ;;
start)
    pf -c "$etc" start >/dev/null || die "postfix -c $etc start failed"
    port=$(awk '$2=="inet"{split($1,a,":"); print a[2]; exit}' "$etc/master.cf")
    for _ in $(seq 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then exit 0; fi
        sleep 0.1
    done
    die "Postfix did not listen on 127.0.0.1:$port within 10 s (see $dir/log/postfix.log)"
    ;;
stop)
    pid=$(cat "$dir/spool/pid/master.pid" 2>/dev/null | tr -d ' ' || true)
    pf -c "$etc" stop >/dev/null 2>&1 || true
    if [[ -n $pid ]]; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        # master(8) makes its children a process group of their own; end that group only.
        kill -9 -- "-$pid" 2>/dev/null || true
    fi
    ;;
maildir) echo "$dir/vmail/bench.test/u" ;;
master-pid) tr -d ' \n' <"$dir/spool/pid/master.pid" ;;
*) die "unknown command $cmd" ;;
esac
