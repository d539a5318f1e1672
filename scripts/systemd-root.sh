#!/bin/bash
# systemd-root.sh DIR: a Debian tree for the tests that boot a real systemd
# under systemd-nspawn (internal/testutil.StartSystemd). It holds systemd,
# D-Bus, polkit (with nss-systemd, for services with DynamicUser), sshd and
# sudo, a user "selfheal" allowed to start, stop and restart the test units
# with sudo -n, and those units. The tests boot it
# read-only with a throw-away overlay, so one tree serves every test.
set -euo pipefail
dir=${1:?usage: systemd-root.sh DIR}
stamp=$dir/.selfheal-root-v2
[ -e "$stamp" ] && exit 0
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
rm -rf "$dir.tmp"
mkdir -p "$(dirname "$dir")"
echo ">> debootstrap bookworm into $dir (systemd, dbus, polkitd, openssh-server, sudo)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libpam-systemd,polkitd,libnss-systemd,openssh-server,sudo \
	bookworm "$dir.tmp" "$mirror" >"$dir.log" 2>&1 || { tail -20 "$dir.log"; exit 1; }
r=$dir.tmp
# One host name, known to sudo (which warns when it cannot resolve it).
echo selfheal-test >"$r/etc/hostname"
echo "127.0.1.1 selfheal-test" >>"$r/etc/hosts"
# The distribution's sshd would listen on port 22 of this machine (the
# container shares its network): only the test's own sshd runs.
ln -sf /dev/null "$r/etc/systemd/system/ssh.service"
ln -sf /dev/null "$r/etc/systemd/system/ssh.socket"
cat >"$r/etc/systemd/system/selfheal-test-sshd.service" <<'UNIT'
[Unit]
Description=sshd of the test, on the port /srv/test/sshd_config names
ConditionPathExists=/srv/test/sshd_config
[Service]
ExecStartPre=/bin/mkdir -p /run/sshd
ExecStart=/usr/sbin/sshd -D -e -f /srv/test/sshd_config
[Install]
WantedBy=multi-user.target
UNIT
# The unit the runbooks restart: it fails to start while /srv/test/broken
# exists, and says so in its log.
cat >"$r/etc/systemd/system/opengslb-agent.service" <<'UNIT'
[Unit]
Description=OpenGSLB agent (test stand-in)
[Service]
ExecStartPre=/bin/sh -c 'if [ -e /srv/test/broken ]; then echo "opengslb-agent: configuration broken: $(cat /srv/test/broken)"; exit 1; fi'
ExecStart=/bin/sh -c 'echo "opengslb-agent: serving"; if [ -x /srv/test/agent ]; then exec /srv/test/agent; fi; exec sleep infinity'
Restart=no
[Install]
WantedBy=multi-user.target
UNIT
# A unit the selfheal user may not touch.
cp "$r/etc/systemd/system/opengslb-agent.service" "$r/etc/systemd/system/other.service"
sed -i 's/^Description=.*/Description=a unit selfheal may not restart/' "$r/etc/systemd/system/other.service"
mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
for u in selfheal-test-sshd opengslb-agent other; do
	ln -sf "/etc/systemd/system/$u.service" "$r/etc/systemd/system/multi-user.target.wants/$u.service"
done
chroot "$r" useradd --create-home --shell /bin/sh --groups systemd-journal selfheal
chroot "$r" usermod --password '*' selfheal
# The sudoers line docs/install.md gives for the systemd action over ssh.
cat >"$r/etc/sudoers.d/selfheal" <<'SUDO'
selfheal ALL=(root) NOPASSWD: /usr/bin/systemctl --no-block start opengslb-agent.service, /usr/bin/systemctl --no-block stop opengslb-agent.service, /usr/bin/systemctl --no-block restart opengslb-agent.service
SUDO
chmod 0440 "$r/etc/sudoers.d/selfheal"
chroot "$r" visudo -c >/dev/null
touch "$r/.selfheal-root-v2"
rm -rf "$dir"
mv "$r" "$dir"
