# Sourced by scripts/start and scripts/test: installs what rdsemu needs on
# Debian 12, idempotently (apt runs only when something is missing).
# Usage: rdsemu_deps build|start|test|bench

rdsemu_apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "rdsemu: installing ${missing[*]}" >&2
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Python that has boto3: the machine's own if it has it (pyenv, venv),
# else Debian's /usr/bin/python3 with python3-boto3.
rdsemu_python() {
	if python3 -c 'import boto3' >/dev/null 2>&1; then
		command -v python3
	else
		echo /usr/bin/python3
	fi
}

rdsemu_deps() {
	local what="$1"
	# libc6-dev is only a Recommends of gcc, and installs here skip Recommends.
	local build=(gcc libc6-dev pkg-config meson ninja-build libmicrohttpd-dev libssl-dev libsqlite3-dev
		libjansson-dev libpq-dev ca-certificates postgresql mariadb-server mariadb-client)
	case "$what" in
	build) rdsemu_apt_install "${build[@]}" ;;
	start)
		# The default fixtures' rotation function is Python with boto3.
		local extra=(python3)
		python3 -c 'import boto3' >/dev/null 2>&1 || extra+=(python3-boto3)
		rdsemu_apt_install "${build[@]}" "${extra[@]}"
		;;
	test)
		local extra=(python3 python3-pytest python3-psycopg2)
		python3 -c 'import boto3' >/dev/null 2>&1 || extra+=(python3-boto3)
		command -v aws >/dev/null 2>&1 || extra+=(awscli)
		command -v npm >/dev/null 2>&1 || extra+=(nodejs npm)
		rdsemu_apt_install "${build[@]}" "${extra[@]}"
		# The AWS SDK for JavaScript v3 and node-postgres, from the npm registry (pinned by package-lock.json).
		if [ ! -d examples/sdk-v3/node_modules/@aws-sdk/client-secrets-manager ] ||
			[ ! -d examples/sdk-v3/node_modules/@aws-sdk/rds-signer ] || [ ! -d examples/sdk-v3/node_modules/pg ]; then
			(cd examples/sdk-v3 && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		fi
		;;
	bench)
		local extra=(wrk curl pgbouncer)
		python3 -c 'import boto3' >/dev/null 2>&1 || extra+=(python3-boto3)
		rdsemu_apt_install "${build[@]}" "${extra[@]}"
		;;
	esac
}
