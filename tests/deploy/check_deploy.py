"""Checks of tagstream's deployment files, one CTest test per command.

    python check_deploy.py COMMAND --source-dir DIR [--venv DIR] [--bin-dir DIR]

Commands:
  cfn         cfn-lint on infra/aws/*.yaml (no finding of any level), a broken
              template must fail it, and the properties docs/DEPLOYMENT.md
              promises are in the templates
  compose     infra/docker-compose.yml against the Compose Specification's
              schema and through `docker-compose config` (Docker Compose's
              own loader), a broken file must fail both, and what the
              stack relies on is there
  dockerfile  the Dockerfile parsed: stages, the non-root user, port, stop
              signal, health check, command; its build packages are
              infra/setup's, so the two cannot drift apart
  lint        hadolint on the Dockerfile
  packages    every package the Dockerfile installs exists in the image's
              Debian release (apt-cache; on a host of that release only)
  libs        every shared library the built binaries need comes from a
              package the runtime stage installs (or one apt installs with
              them), and every runtime package is needed (on a host of the
              image's Debian release only; tests/image/test_image.sh checks
              the same in the built image)

Exit codes: 0 passed, 1 failed, 77 skipped (not possible on this host).
Run with the Python of the virtual environment tools.sh makes.
"""

import argparse
import copy
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

SKIP = 77

# The Debian release of both stages: librdkafka 2.8 (SCRAM against Kafka 4)
# and RocksDB 9.10.
RELEASE = "trixie"
RELEASE_NAME = "Debian 13"
BASE_IMAGE = f"debian:{RELEASE}-slim"
# Runtime packages that no binary links against, and why they are there.
RUNTIME_EXTRAS = {
    "ca-certificates": "TLS to MSK and to the X and Mastodon APIs",
}
# Never in the runtime stage: the health check is tagstream-probe.
RUNTIME_BANNED = {"curl", "wget"}
# -dev packages of infra/setup that the image does not build with (the
# build stage runs the unit tests, so criterion is not among them).
BUILD_EXCEPTIONS = {
    "libclang-rt-14-dev": "fuzzing only (tests/fuzz, built with clang); the image builds with gcc",
}
# Build tools: the Dockerfile's build stage must install these from the
# infra/setup list.
BUILD_TOOLS = {"build-essential", "cmake", "ninja-build", "pkg-config"}
SHIPPED = ["tagstream-processor", "tagstream-producer", "tagstream-store", "tagstream-view", "tagstream-probe"]


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def tool(args, name):
    path = os.path.join(args.venv, "bin", name)
    check(os.access(path, os.X_OK), f"{name} is not installed in {args.venv} (tests/deploy/tools.sh)")
    return path


# ----------------------------------------------------------------- Dockerfile


def dockerfile_stages(path):
    """[(stage name, base image, [instructions])] with dockerfile-parse."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=path)
    stages = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            words = ins["value"].split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append((name, words[0], []))
        elif ins["instruction"] != "COMMENT":
            check(stages, f"{path}:{ins['startline'] + 1}: instruction before FROM")
            stages[-1][2].append(ins)
    return stages


def apt_installs(instructions):
    """Package names of every `apt-get install` in the RUN instructions."""
    pkgs = []
    for ins in instructions:
        if ins["instruction"] != "RUN":
            continue
        words = shlex.split(ins["value"], comments=False)
        i = 0
        while i < len(words):
            if words[i] == "apt-get" and "install" in words[i + 1 : i + 6]:
                j = words.index("install", i) + 1
                while j < len(words) and words[j] not in ("&&", "||", ";", "|"):
                    if not words[j].startswith("-"):
                        pkgs.append(words[j])
                    j += 1
                i = j
            i += 1
    return pkgs


def setup_packages(source_dir):
    """The PACKAGES array of infra/setup, as bash reads it."""
    script = os.path.join(source_dir, "infra", "setup")
    out = run(
        [
            "bash",
            "-c",
            'eval "$(sed -n "/^PACKAGES=(/,/^)/p" "$1")"; printf "%s\\n" "${PACKAGES[@]}"',
            "setup",
            script,
        ]
    )
    check(out.returncode == 0, f"cannot read PACKAGES from {script}: {out.stderr}")
    pkgs = out.stdout.split()
    check(len(pkgs) > 5, f"PACKAGES in {script} looks empty: {pkgs}")
    return pkgs


def instr(instructions, name):
    return [i for i in instructions if i["instruction"] == name]


def cmd_dockerfile(args):
    path = os.path.join(args.source_dir, "Dockerfile")
    stages = dockerfile_stages(path)
    check(len(stages) == 2, f"expected a build and a runtime stage, found {[s[0] for s in stages]}")
    (bname, bimage, build), (rname, rimage, runtime) = stages
    check(bimage == BASE_IMAGE, f"build stage from {bimage}, not {BASE_IMAGE}")
    check(rimage == BASE_IMAGE, f"runtime stage from {rimage}, not {BASE_IMAGE}")

    # Build packages against infra/setup, both ways.
    setup = setup_packages(args.source_dir)
    built_with = apt_installs(build)
    check(built_with, "the build stage installs no packages")
    dev_setup = {p for p in setup if p.endswith("-dev")} - set(BUILD_EXCEPTIONS)
    dev_build = {p for p in built_with if p.endswith("-dev")}
    check(
        dev_setup == dev_build,
        "the build stage's -dev packages differ from infra/setup's: "
        f"only in infra/setup {sorted(dev_setup - dev_build)}, only in the Dockerfile {sorted(dev_build - dev_setup)}",
    )
    strays = sorted(set(built_with) - set(setup))
    check(not strays, f"the build stage installs packages infra/setup does not: {strays}")
    missing = sorted(BUILD_TOOLS - set(built_with))
    check(not missing, f"the build stage lacks the build tools {missing}")
    build_runs = " ".join(i["value"] for i in instr(build, "RUN"))
    check("-DCMAKE_BUILD_TYPE=Release" in build_runs, "the build stage does not build Release")
    check(re.search(r"ctest .*-L unit", build_runs), "the build stage does not run the unit tests")
    for b in SHIPPED:
        check(f"/build/bin/{b}" in build_runs, f"the build stage does not install {b}")

    # The runtime stage.
    rt = apt_installs(runtime)
    check(not [p for p in rt if p.endswith("-dev")], f"-dev packages in the runtime stage: {rt}")
    for extra in RUNTIME_EXTRAS:
        check(extra in rt, f"the runtime stage lacks {extra} ({RUNTIME_EXTRAS[extra]})")
    banned = sorted(RUNTIME_BANNED & set(rt))
    check(not banned, f"the runtime stage installs {banned}: the health check is tagstream-probe")
    users = instr(runtime, "USER")
    check(users, "no USER: the image would run as root")
    user = users[-1]["value"].split(":")[0]
    check(user not in ("root", "0"), f"USER {user} is root")
    env = " ".join(i["value"] for i in instr(runtime, "ENV"))
    check("TAGSTREAM_STATE_DIR=/var/lib/tagstream" in env, "ENV TAGSTREAM_STATE_DIR=/var/lib/tagstream missing")
    check("TAGSTREAM_HTTP_LISTEN=0.0.0.0:8080" in env, "ENV TAGSTREAM_HTTP_LISTEN=0.0.0.0:8080 missing")
    runs = " ".join(i["value"] for i in instr(runtime, "RUN"))
    check(re.search(r"install -d -o tagstream .*/var/lib/tagstream", runs), "/var/lib/tagstream not owned by the user")
    check([i for i in instr(runtime, "EXPOSE") if i["value"].split() == ["8080"]], "no EXPOSE 8080")
    check([i for i in instr(runtime, "STOPSIGNAL") if i["value"] == "SIGTERM"], "no STOPSIGNAL SIGTERM")
    hc = instr(runtime, "HEALTHCHECK")
    check(len(hc) == 1 and re.search(r'CMD \["tagstream-probe"', hc[0]["value"]),
          "no HEALTHCHECK with tagstream-probe (GET /health)")
    cmd = instr(runtime, "CMD")
    check(cmd and json.loads(cmd[-1]["value"]) == ["tagstream-processor"], "the command is not the processor")
    copies = [i["value"] for i in instr(runtime, "COPY")]
    check(any(c.startswith("--from=build ") for c in copies), "the runtime stage copies nothing from the build")
    print(f"dockerfile: 2 stages, {len(dev_build)} -dev packages as infra/setup, runtime {sorted(rt)}")


def cmd_lint(args):
    hadolint = os.path.join(args.venv, "bin", "hadolint")
    if not os.access(hadolint, os.X_OK):
        print("lint: skipped: hadolint is published for Linux x86-64 only")
        return SKIP
    path = os.path.join(args.source_dir, "Dockerfile")
    out = run([hadolint, "--no-color", "--failure-threshold", "info", path])
    print(out.stdout + out.stderr, end="")
    check(out.returncode == 0, "hadolint found problems in the Dockerfile")
    # The linter must see a problem where there is one.
    with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile") as bad:
        bad.write("FROM debian:bookworm\nRUN cd /tmp && apt-get install curl\nCMD curl localhost\n")
        bad.flush()
        out = run([hadolint, "--no-color", bad.name])
        check(out.returncode != 0 and "DL3003" in out.stdout, f"hadolint missed a broken Dockerfile: {out.stdout}")
    print("lint: hadolint finds nothing in the Dockerfile")


def host_is_release():
    """Whether this host runs the image's Debian release (its apt then knows
    the image's package names and its libraries are the image's)."""
    try:
        with open("/etc/os-release") as f:
            return re.search(rf"^VERSION_CODENAME={RELEASE}$", f.read(), re.M) is not None
    except OSError:
        return False


def cmd_packages(args):
    if not host_is_release():
        print(f"packages: skipped: the host is not {RELEASE_NAME}, its apt knows other package names "
              "(infra/image/build installs them all in the image)")
        return SKIP
    stages = dockerfile_stages(os.path.join(args.source_dir, "Dockerfile"))
    names = sorted({p for _, _, ins in stages for p in apt_installs(ins)})
    out = run(["apt-cache", "show", "--no-all-versions", *names])
    found = set(re.findall(r"^Package: (\S+)$", out.stdout, re.M))
    absent = [p for p in names if p not in found]
    check(not absent,
          f"not in {RELEASE_NAME} (apt-cache show; run apt-get update if the lists are empty): {absent}")
    # and apt-cache does tell a missing name
    out = run(["apt-cache", "show", "--no-all-versions", "librocksdb9.10-no-such-package"])
    check(out.returncode != 0, "apt-cache show found a package that does not exist")
    print(f"packages: all {len(names)} packages of the Dockerfile exist in {RELEASE_NAME}")


def package_of(path):
    """The Debian package that installed a file (usr-merge aware)."""
    real = os.path.realpath(path)
    cands = {path, real}
    for p in list(cands):
        if p.startswith("/usr/lib/"):
            cands.add(p[4:])
        elif p.startswith("/lib/"):
            cands.add("/usr" + p)
    for p in sorted(cands):
        out = run(["dpkg-query", "-S", p])
        if out.returncode == 0:
            return out.stdout.split(":")[0].strip()
    return None


def cmd_libs(args):
    if not host_is_release():
        print(f"libs: skipped: the host is not {RELEASE_NAME}, whose libraries the image has "
              "(tests/image/test_image.sh checks them in the image)")
        return SKIP
    stages = dockerfile_stages(os.path.join(args.source_dir, "Dockerfile"))
    runtime = set(apt_installs(stages[-1][2]))
    binaries = sorted(glob.glob(os.path.join(args.bin_dir, "tagstream-*")))
    names = [os.path.basename(b) for b in binaries]
    for b in SHIPPED:
        check(b in names, f"{b} not built in {args.bin_dir}")
    libpaths = {}
    for line in run(["ldconfig", "-p"]).stdout.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and ("x86-64" in m.group(2) or "x86_64" not in os.uname().machine):
            libpaths.setdefault(m.group(1), m.group(3))
    needed_pkgs = {}
    for b in binaries:
        out = run(["readelf", "-d", b])
        check(out.returncode == 0, f"readelf {b}: {out.stderr}")
        for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout):
            check(soname in libpaths, f"{os.path.basename(b)} needs {soname}, which ldconfig does not know")
            pkg = package_of(libpaths[soname])
            check(pkg, f"no package owns {libpaths[soname]} ({soname})")
            needed_pkgs.setdefault(pkg, set()).add(soname)
    # What apt-get install --no-install-recommends brings along.
    out = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
               "--no-breaks", "--no-replaces", "--no-enhances", *sorted(runtime)])
    check(out.returncode == 0, f"apt-cache depends: {out.stderr}")
    installed = {line for line in out.stdout.splitlines() if line and not line.startswith((" ", "<"))}
    not_there = [f"{pkg} ({', '.join(sorted(needed_pkgs[pkg]))})" for pkg in sorted(needed_pkgs)
                 if pkg not in runtime and pkg not in installed]
    check(not not_there, f"the runtime stage lacks the libraries' packages {not_there}")
    unneeded = sorted(runtime - set(needed_pkgs) - set(RUNTIME_EXTRAS))
    check(not unneeded, f"runtime packages no binary needs: {unneeded} (or say why in RUNTIME_EXTRAS)")
    print(f"libs: {len(binaries)} binaries ({', '.join(names)}) need {sorted(needed_pkgs)}; all in the image")


# ------------------------------------------------------ metrics in the code

METRIC_SOURCES = ("processor", "producer", "common", "store", "recovery")


def code_metrics(source_dir):
    """{metric name: label names} as the sources register and render them.

    A histogram's name gives its _sum and _count series (the ones ts_emf
    sends). The labels of a metric are those written in the files that
    name it: `name=\\"` inside a C string, and the keys of `pairs[]` arrays.
    """
    metrics = {}
    for d in METRIC_SOURCES:
        for path in sorted(glob.glob(os.path.join(source_dir, d, "**", "*.c"), recursive=True)):
            with open(path) as f:
                text = f.read()
            names = set(re.findall(r'"(tagstream_[a-z0-9_]+)[{"]', text))
            for h in re.findall(r'ts_metrics_histogram\(\s*\w+,\s*"(tagstream_[a-z0-9_]+)"', text):
                names |= {h + "_sum", h + "_count"}
            labels = set(re.findall(r'["{,](\w+)=\\"', text))
            for body in re.findall(r"const char \*pairs\[\] = \{([^;]*)\};", text):
                items = [i.strip() for i in body.split(",")]
                labels |= {m.group(1) for i in items[0::2] if (m := re.fullmatch(r'"(\w+)"', i))}
            for n in names:
                metrics.setdefault(n, set()).update(labels)
    check(len(metrics) > 20, f"found only {len(metrics)} metric names in the sources")
    return metrics


def sub_placeholders(value):
    """The text of a Fn::Sub with every ${Var} made a placeholder <Var>, and
    ${!x} made ${x} as CloudFormation does."""
    text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
    text = re.sub(r"\$\{(?!!)([^}]+)\}", r"<\1>", text)
    return text.replace("${!", "${")


def dashboard_metrics(body, ns):
    """[(metric name, {dimension: value}, where)] of every metric the
    dashboard body reads in namespace ns: metric rows and SEARCH expressions."""
    found = []
    for wi, w in enumerate(body["widgets"]):
        for row in w["properties"].get("metrics", []):
            where = f"widget {wi} ({w['properties'].get('title')})"
            if isinstance(row[0], dict):
                expr = row[0].get("expression", "")
                m = re.match(r"SEARCH\('\{([^}]*)\} (.*)', '\w+', \d+\)$", expr)
                if not m:
                    continue
                schema = [x.strip().strip('"') for x in m.group(1).split(",")]
                conds = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
                check(schema[0] == ns, f"{where}: SEARCH in namespace {schema[0]}, not {ns}")
                name = conds.pop("MetricName")
                check(set(conds) <= set(schema[1:]), f"{where}: SEARCH filters on {sorted(conds)} outside {schema}")
                found.append((name, {d: conds.get(d) for d in schema[1:]}, where))
                continue
            fields = [x for x in row if not isinstance(x, dict)]
            if fields[0] != ns:
                continue
            found.append((fields[1], dict(zip(fields[2::2], fields[3::2])), where))
    return found


# ------------------------------------------------------------- CloudFormation


def cfn_lint(args, paths):
    return run(
        [tool(args, "cfn-lint"), "--include-checks", "I", "--non-zero-exit-code", "informational",
         "--regions", "us-east-1", "eu-west-1", "ap-southeast-2", "--", *paths]
    )


def resources(t, rtype):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def branches(items):
    """Entries of a list whose items may be Fn::If: (condition, item) pairs,
    the condition None for an unconditional item; AWS::NoValue left out."""
    out = []
    for e in items:
        if isinstance(e, dict) and "Fn::If" in e:
            cond, yes, no = e["Fn::If"]
            out += [(cond, v) for v in (yes, no) if v != {"Ref": "AWS::NoValue"}]
        else:
            out.append((None, e))
    return out


def env_of(container):
    return {e["Name"]: e.get("Value") for _, e in branches(container.get("Environment", []))}


def env_conditions(container, key):
    return {cond for cond, e in branches(container.get(key, [])) + branches(container.get("Secrets", []))
            if e.get("Name") in ("TAGSTREAM_MSK_IAM", "TAGSTREAM_KAFKA_SASL_PASSWORD", "SASL_PASSWORD",
                                 "TAGSTREAM_DRILL_MSK_IAM", "TAGSTREAM_DRILL_KAFKA_SASL_PASSWORD")}


# Where an MSK IAM policy may point: the cluster, and the application's own
# topics, group and transactional ids (no wildcard beyond its prefix).
MSK_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:kafka:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                     r"(topic|group|transactional-id)/\$\{Path\}/"
                     r"(twitter_input|twitter_output|\$\{ApplicationId\}(-\*|-repartition)?"
                     r"|drill-ops-\*|tagstream-drill-\*)$")


def msk_policy_problems(app):
    """The kafka-cluster statements of the app's roles that grant more than
    least privilege, as messages; and the roles that have any."""
    problems, roles = [], set()
    for rname, role in resources(app, "AWS::IAM::Role").items():
        for _, pol in branches(role["Properties"].get("Policies", [])):
            for _, st in branches(pol["PolicyDocument"]["Statement"]):
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                if not any(a.startswith("kafka-cluster:") for a in acts):
                    continue
                roles.add(rname)
                for a in acts:
                    if "*" in a or not a.startswith("kafka-cluster:"):
                        problems.append(f"{rname}: action {a}")
                res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                for r in res:
                    if r == {"Fn::ImportValue": {"Fn::Sub": "${BaseStackName}-MskClusterArn"}}:
                        continue
                    sub = r.get("Fn::Sub") if isinstance(r, dict) else None
                    if not (isinstance(sub, list) and MSK_ARN.match(sub[0])
                            and sub[1] == {"Path": {"Fn::ImportValue": {"Fn::Sub": "${BaseStackName}-MskClusterPath"}}}):
                        problems.append(f"{rname}: resource {json.dumps(r)}")
    return problems, roles


def cmd_cfn(args):
    from cfnlint.decode import cfn_yaml

    paths = sorted(glob.glob(os.path.join(args.source_dir, "infra", "aws", "*.yaml")))
    check(len(paths) >= 2, f"templates missing in infra/aws: {paths}")
    out = cfn_lint(args, paths)
    print(out.stdout + out.stderr, end="")
    check(out.returncode == 0, f"cfn-lint found problems (exit {out.returncode})")

    # A template with a wrong property type must fail: cfn-lint really checks.
    base_path = os.path.join(args.source_dir, "infra", "aws", "base.yaml")
    app_path = os.path.join(args.source_dir, "infra", "aws", "app.yaml")
    with open(app_path) as f:
        broken = f.read().replace("StopTimeout: 60", "StopTimeout: sixty", 1)
    check("sixty" in broken, "app.yaml has no processor StopTimeout: 60")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as tmp:
        tmp.write(broken)
        tmp.flush()
        out = cfn_lint(args, [tmp.name])
        check(out.returncode & 2 and "sixty" in out.stdout, f"cfn-lint missed a broken template: {out.stdout}")

    base = cfn_yaml.load(base_path)
    app = cfn_yaml.load(app_path)

    # MSK: three brokers, TLS, IAM (default) or SCRAM, the replication settings.
    (msk,) = resources(base, "AWS::MSK::Cluster").values()
    p = msk["Properties"]
    check(p["NumberOfBrokerNodes"] == 3, "MSK: not 3 brokers")
    for t in (base, app):
        am = t["Parameters"]["AuthMode"]
        check(am["Default"] == "IAM" and am["AllowedValues"] == ["IAM", "SCRAM"], "AuthMode: not IAM by default or SCRAM")
    sasl = p["ClientAuthentication"]["Sasl"]
    check(sasl["Iam"]["Enabled"] == {"Fn::If": ["IamAuth", True, False]}, "MSK: IAM not on with AuthMode IAM")
    check(sasl["Scram"]["Enabled"] == {"Fn::If": ["ScramAuth", True, False]}, "MSK: SCRAM not on with AuthMode SCRAM")
    check(p["ClientAuthentication"]["Unauthenticated"]["Enabled"] is False, "MSK: unauthenticated access on")
    check(p["EncryptionInfo"]["EncryptionInTransit"]["ClientBroker"] == "TLS", "MSK: clients not on TLS only")
    check(len(p["BrokerNodeGroupInfo"]["ClientSubnets"]) == 3, "MSK: not in three subnets")
    check(str(base["Parameters"]["KafkaVersion"]["Default"]).startswith("4."),
          "MSK's default Kafka version is not a 4.x, which the image is tested against")
    (conf,) = resources(base, "AWS::MSK::Configuration").values()
    text, subs = conf["Properties"]["ServerProperties"]["Fn::Sub"]
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    # ACLs enforced with EnforceAcls=true (MSK's default lets everyone in).
    check(props.get("allow.everyone.if.no.acl.found") == "${AllowEveryone}",
          "MSK configuration: allow.everyone.if.no.acl.found does not follow EnforceAcls")
    check(subs["AllowEveryone"] == {"Fn::If": ["AclsEnforced", "false", "true"]},
          "MSK configuration: EnforceAcls=true does not set allow.everyone.if.no.acl.found=false")
    want = {
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "auto.create.topics.enable": "false",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
    }
    for k, v in want.items():
        check(props.get(k) == v, f"MSK configuration: {k} is {props.get(k)}, not {v}")

    # The SCRAM secrets, one per user (processor, producer, admin, drill):
    # AmazonMSK_ names, customer managed key, all associated, none with
    # AuthMode IAM.
    secrets = resources(base, "AWS::SecretsManager::Secret")
    check(set(secrets) == {"ScramSecret", "ProducerScramSecret", "AdminScramSecret", "DrillScramSecret"},
          f"base: secrets {sorted(secrets)}, not one per SCRAM user")
    (assoc,) = resources(base, "AWS::MSK::BatchScramSecret").values()
    for sname, secret in secrets.items():
        check(secret["Properties"]["Name"]["Fn::Sub"].startswith("AmazonMSK_"), f"{sname}'s name lacks AmazonMSK_")
        key = secret["Properties"]["KmsKeyId"]["Ref"]
        check(base["Resources"][key]["Type"] == "AWS::KMS::Key", f"{sname} is not under a customer managed key")
        check(secret.get("Condition") == assoc.get("Condition") == "ScramAuth", f"{sname} exists with AuthMode IAM")
    check(sorted(r["Ref"] for r in assoc["Properties"]["SecretArnList"]) == sorted(secrets),
          "not every SCRAM secret is associated")
    drill_user = json.loads(secrets["DrillScramSecret"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    check(drill_user == {"username": "drill"}, f"the drill's SCRAM user is {drill_user}, not drill (docs/DRILLS.md)")

    # The brokers accept 9098 (IAM) or 9096 (SCRAM) from the task security group, nothing else.
    msk_sgs = [sg["Ref"] for sg in p["BrokerNodeGroupInfo"]["SecurityGroups"]]
    for sg in msk_sgs:
        check("SecurityGroupIngress" not in base["Resources"][sg]["Properties"], f"{sg}: inline ingress rules")
    rules = [r["Properties"] for r in resources(base, "AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"].get("Ref") in msk_sgs]
    check(rules, "no ingress rule for the brokers")
    for r in rules:
        port = {"Fn::If": ["IamAuth", 9098, 9096]}
        check(r["FromPort"] == port and r["ToPort"] == port, f"broker ingress on ports {r['FromPort']}-{r['ToPort']}")
        check(r.get("SourceSecurityGroupId", {}).get("Ref") == "TaskSecurityGroup", "broker ingress not from the tasks")
        check("CidrIp" not in r, "broker ingress from an address range")

    # Three AZs, public and private.
    azs = {s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in resources(base, "AWS::EC2::Subnet").values()}
    check(azs == {0, 1, 2}, f"subnets in AZs {azs}")

    # Every export the app imports exists.
    exported = {o["Export"]["Name"]["Fn::Sub"].split("-", 1)[1] for o in base["Outputs"].values() if "Export" in o}
    imported = set(re.findall(r"\$\{BaseStackName\}-(\w+)", json.dumps(app)))
    check(imported <= exported, f"app.yaml imports what base.yaml does not export: {sorted(imported - exported)}")

    # The services.
    tds = resources(app, "AWS::ECS::TaskDefinition")
    proc = tds["ProcessorTaskDefinition"]["Properties"]
    (pc,) = proc["ContainerDefinitions"]
    penv = env_of(pc)
    check(pc["StopTimeout"] == 60, "processor stopTimeout is not 60 s")
    check(int(penv["TAGSTREAM_SHUTDOWN_TIMEOUT_MS"]) + 10000 <= pc["StopTimeout"] * 1000,
          "processor shutdown.timeout.ms does not leave 10 s before stopTimeout")
    check(penv.get("TAGSTREAM_STATE_DIR") == "/var/lib/tagstream", "processor state dir")
    check("EphemeralStorage" in proc, "processor: no ephemeral storage for the state")
    check(penv.get("TAGSTREAM_KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", "processor not on SASL_SSL")
    for name, td in tds.items():
        for c in td["Properties"]["ContainerDefinitions"]:
            lc = c["LogConfiguration"]
            check(lc["LogDriver"] == "awslogs", f"{name}: not awslogs")
            group = lc["Options"]["awslogs-group"]["Ref"]
            check("RetentionInDays" in app["Resources"][group]["Properties"], f"{group}: no retention")
            secrets = {s["Name"] for _, s in branches(c.get("Secrets", [])) if "Name" in s}
            check(secrets & {"TAGSTREAM_KAFKA_SASL_PASSWORD", "TAGSTREAM_DRILL_KAFKA_SASL_PASSWORD", "SASL_PASSWORD"}, f"{name}: SASL password not a secret")
            if name != "KafkaAdminTaskDefinition":
                check(env_conditions(c, "Environment") == {"IamAuth", "ScramAuth"},
                      f"{name}: not msk.iam with AuthMode IAM and the SCRAM password with SCRAM")
            role = td["Properties"].get("TaskRoleArn", {}).get("Fn::If", [None, {}])[1].get("Fn::GetAtt", [None])[0]
            check(role in app["Resources"], f"{name}: no task role for AuthMode IAM")
            check(not {k for k in env_of(c) if "PASSWORD" in k or "TOKEN" in k}, f"{name}: a credential in plain env")
            if name not in ("KafkaAdminTaskDefinition", "DrillTaskDefinition"):
                hc = c["HealthCheck"]["Command"]
                check(hc[:2] == ["CMD", "tagstream-probe"] and "/health" in hc,
                      f"{name}: health check is not tagstream-probe on /health")
    # Each task signs in as its own SCRAM user, and its execution role reads
    # that secret only.
    used = {}
    for name, td in tds.items():
        (c,) = td["Properties"]["ContainerDefinitions"]
        pw = [(cond, x) for cond, x in branches(c.get("Secrets", []))
              if x.get("Name") in ("TAGSTREAM_KAFKA_SASL_PASSWORD", "TAGSTREAM_DRILL_KAFKA_SASL_PASSWORD", "SASL_PASSWORD")]
        check(len(pw) == 1 and "ScramAuth" in (pw[0][0], td.get("Condition")),
              f"{name}: its SCRAM password is not there with AuthMode SCRAM only")
        used[name] = json.dumps(pw[0][1]["ValueFrom"])
        role = app["Resources"][td["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]]
        stmts = [st for _, st in branches(role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])]
        readable = json.dumps([st["Resource"] for st in stmts if st["Action"] == "secretsmanager:GetSecretValue"])
        for other in re.findall(r"(\w*ScramSecretArn)", json.dumps(app)):
            check((other in used[name]) == (other in readable),
                  f"{name}'s execution role and its SCRAM secret do not match ({other})")
    check(len(set(used.values())) == len(used), "two tasks share a SCRAM user")
    check_admin_acls(args, tds["KafkaAdminTaskDefinition"]["Properties"])
    svcs = resources(app, "AWS::ECS::Service")
    dc = svcs["ProcessorService"]["Properties"]["DeploymentConfiguration"]
    check(dc["MinimumHealthyPercent"] == 100 and dc["MaximumPercent"] == 200, "processor deployment percentages")
    dc = svcs["ProducerService"]["Properties"]["DeploymentConfiguration"]
    check(dc["MaximumPercent"] == 100, "two producers could run at once during a deployment")
    (target,) = resources(app, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    check("InputPartitions" in json.dumps(target["Properties"]["MaxCapacity"]),
          "processor autoscaling maximum is not the input partition count")
    (policy,) = resources(app, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    spec = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    check(spec["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization", "autoscaling not on CPU")
    check(len(resources(app, "AWS::CloudWatch::Alarm")) >= 3, "fewer than three alarms")
    problems, roles = msk_policy_problems(app)
    check(not problems, f"MSK IAM policies beyond least privilege: {problems}")
    check(len(roles) == 4,
          f"kafka-cluster permissions in {sorted(roles)}, not the processor, producer, admin and drill task roles")
    # and the check does find a wildcard
    wild = json.loads(json.dumps(app).replace("kafka-cluster:AlterGroup", "kafka-cluster:*", 1))
    check(msk_policy_problems(wild)[0], "the least-privilege check missed kafka-cluster:*")
    check_operations(args, app)
    check_network(base, app)
    check_drill(app)
    print(f"cfn: {len(paths)} templates lint clean; MSK (IAM or SCRAM), secrets, least-privilege MSK IAM policies, "
          "network, services and scaling as documented")


def check_operations(args, app, selftest=True):
    """EMF on in the services, the dashboard's metrics as the code names
    them, the alarms on the SNS topic parameter. With selftest, a dashboard
    with a misspelt metric and one with a label the code lacks must fail."""
    tds = resources(app, "AWS::ECS::TaskDefinition")
    ns = None
    for name in ("ProcessorTaskDefinition", "ProducerTaskDefinition"):
        (c,) = tds[name]["Properties"]["ContainerDefinitions"]
        env = {e["Name"]: e.get("Value") for e in c["Environment"] if isinstance(e, dict) and "Name" in e}
        check(env.get("TAGSTREAM_METRICS_EMF") == "true", f"{name}: TAGSTREAM_METRICS_EMF is not true")
        this_ns = env.get("TAGSTREAM_METRICS_EMF_NAMESPACE")
        check(this_ns is not None, f"{name}: no TAGSTREAM_METRICS_EMF_NAMESPACE")
        check(ns is None or this_ns == ns, f"{name}: another EMF namespace ({this_ns} and {ns})")
        ns = this_ns
    check(ns == {"Fn::Sub": "tagstream/${AWS::StackName}"}, f"EMF namespace {ns}")
    ns_text = "tagstream/<AWS::StackName>"

    code = code_metrics(args.source_dir)
    (dash,) = resources(app, "AWS::CloudWatch::Dashboard").values()
    sub = dash["Properties"]["DashboardBody"]
    body = json.loads(sub_placeholders(sub))
    variables = sub["Fn::Sub"][1]
    check(variables["Ns"] == ns, f"the dashboard's namespace {variables['Ns']} is not the services' {ns}")
    used = dashboard_metrics(body, "<Ns>")
    check(len(used) >= 15, f"the dashboard reads only {len(used)} EMF metrics")
    filters = {t["MetricName"] for f in resources(app, "AWS::Logs::MetricFilter").values()
               for t in f["Properties"]["MetricTransformations"]}
    for metric, dims, where in used:
        if not metric.startswith("tagstream_"):
            check(metric in filters, f"{where}: {metric} is neither a tagstream metric nor a metric filter's")
            check(not dims, f"{where}: {metric} has dimensions {dims}, a metric filter's has none")
            continue
        check(metric in code, f"{where}: {metric} is no metric name of the code")
        check(dims.get("application") in ("<ApplicationId>", "tagstream-producer"),
              f"{where}: {metric} without the application dimension ({dims})")
        extra = set(dims) - {"application"} - code[metric]
        check(not extra, f"{where}: {metric} has dimensions {sorted(extra)} the code does not label it with "
                         f"({sorted(code[metric])})")
    wanted = ["tagstream_consumer_lag_records", "tagstream_records_consumed_total", "tagstream_results_emitted_total",
              "tagstream_commit_latency_seconds_sum", "tagstream_commit_latency_seconds_count",
              "tagstream_transactions_aborted_total", "tagstream_restores_total", "tagstream_restore_remaining_records",
              "tagstream_restore_seconds_sum", "tagstream_restore_seconds_count",
              "tagstream_records_skipped_total", "HealthCheckFailures"]
    names = {u[0] for u in used}
    check(not [w for w in wanted if w not in names], f"the dashboard lacks {[w for w in wanted if w not in names]}")

    # Every alarm notifies the topic parameter, and the EMF-based ones
    # read metrics the code has.
    alarms = resources(app, "AWS::CloudWatch::Alarm")
    topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, a in alarms.items():
        p = a["Properties"]
        check(p.get("AlarmActions") == topic and p.get("OKActions") == topic, f"{name}: not on AlarmTopicArn")
        if p.get("Namespace") == ns:
            metric = p["MetricName"]
            check(metric in code or metric in filters, f"{name}: {metric} is neither the code's nor a filter's")
    for want in ("ProcessorAbortsAlarm", "ProcessorLagGrowthAlarm", "ProcessorCrashLoopAlarm", "ProducerCrashLoopAlarm"):
        check(want in alarms, f"no {want}")
    rule = resources(app, "AWS::Events::Rule")["TaskStoppedRule"]["Properties"]
    check(rule["EventPattern"]["detail"]["lastStatus"] == ["STOPPED"], "the task-events rule is not on stopped tasks")
    if selftest:
        for old, new in (('"tagstream_windows_closed_total"', '"tagstream_windows_close_total"'),
                         ('"application", "tagstream-producer", {"id": "pp"',
                          '"application", "tagstream-producer", "topic", "input", {"id": "pp"')):
            bad = copy.deepcopy(app)
            bsub = resources(bad, "AWS::CloudWatch::Dashboard")["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
            check(old in bsub[0], f"the dashboard has no {old} to break")
            bsub[0] = bsub[0].replace(old, new, 1)
            try:
                check_operations(args, bad, selftest=False)
            except Failed:
                pass
            else:
                raise Failed(f"the dashboard check missed {new}")
    print(f"operations: EMF on in both services ({ns_text}); the dashboard's {len(used)} metrics "
          f"exist in the code with its labels; {len(alarms)} alarms on AlarmTopicArn")


def check_network(base, app):
    """Interface endpoints, flow logs and KMS on every log group, each
    behind a parameter whose default turns it on."""
    params = base["Parameters"]
    check(params["InterfaceEndpoints"]["Default"] == "true", "InterfaceEndpoints is off by default")
    check(params["FlowLogTraffic"]["Default"] in ("ALL", "REJECT"), "flow logs are off by default")
    check(params["EncryptLogs"]["Default"] == "true", "base: EncryptLogs is off by default")
    check(app["Parameters"]["EncryptLogs"]["Default"] == "true", "app: EncryptLogs is off by default")
    eps = resources(base, "AWS::EC2::VPCEndpoint").values()
    services = {}
    for e in eps:
        svc = e["Properties"]["ServiceName"]["Fn::Sub"].rsplit("${AWS::Region}.", 1)[1]
        services[svc] = e["Properties"]
    for svc in ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages"):
        check(svc in services, f"no interface endpoint for {svc}")
        p = services[svc]
        check(p["VpcEndpointType"] == "Interface" and p["PrivateDnsEnabled"] is True,
              f"{svc}: not an interface endpoint with private DNS")
        check(len(p["SubnetIds"]) == 3, f"{svc}: not in the three private subnets")
    check(services.get("s3", {}).get("VpcEndpointType") == "Gateway", "no S3 gateway endpoint")
    (sg,) = [r for r in resources(base, "AWS::EC2::SecurityGroup").values()
             if "endpoint" in r["Properties"]["GroupDescription"]]
    for rule in sg["Properties"]["SecurityGroupIngress"]:
        check(rule["FromPort"] == 443 and rule.get("SourceSecurityGroupId") == {"Ref": "TaskSecurityGroup"},
              "the endpoints accept more than HTTPS from the tasks")
    (fl,) = resources(base, "AWS::EC2::FlowLog").values()
    check(fl["Properties"]["ResourceType"] == "VPC" and fl["Properties"]["TrafficType"] == {"Ref": "FlowLogTraffic"},
          "the flow log does not cover the VPC with FlowLogTraffic")
    key_if = {"Fn::If": ["LogsEncrypted", {"Fn::GetAtt": ["LogsKey", "Arn"]}, {"Ref": "AWS::NoValue"}]}
    for name, g in resources(base, "AWS::Logs::LogGroup").items():
        check(g["Properties"].get("KmsKeyId") == key_if, f"base: {name} not under the logs key")
        check(g["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/tagstream/"),
              f"base: {name} outside /tagstream/, which the key policy names")
    key = base["Resources"]["LogsKey"]["Properties"]
    check(key["EnableKeyRotation"] is True, "the logs key does not rotate")
    (logs_stmt,) = [st for st in key["KeyPolicy"]["Statement"] if "Service" in st["Principal"]]
    cond = json.dumps(logs_stmt["Condition"])
    check("log-group:/tagstream/*" in cond, "the logs key is not limited to the /tagstream/ log groups")
    imported = {"Fn::ImportValue": {"Fn::Sub": "${BaseStackName}-LogsKmsKeyArn"}}
    for name, g in resources(app, "AWS::Logs::LogGroup").items():
        check(g["Properties"].get("KmsKeyId") == {"Fn::If": ["LogsEncrypted", imported, {"Ref": "AWS::NoValue"}]},
              f"app: {name} not under the base stack's logs key")
        check(g["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/tagstream/"),
              f"app: {name} outside /tagstream/, which the key policy names")
    print(f"network: endpoints {sorted(services)}, flow logs, {len(resources(base, 'AWS::Logs::LogGroup'))} + "
          f"{len(resources(app, 'AWS::Logs::LogGroup'))} log groups under KMS")


# Faults the drill injects with signals and the disk alone: no AWS CLI in
# the image (broker faults are run by an operator, docs/OPERATIONS.md).
DRILL_FAULTS_IN_TASK = {"none", "kill9", "sigterm", "zombie", "scale", "stateloss"}


def check_drill(app):
    td = resources(app, "AWS::ECS::TaskDefinition")["DrillTaskDefinition"]["Properties"]
    (c,) = td["ContainerDefinitions"]
    check(c["Command"] == ["tagstream-drill"], f"the drill task runs {c['Command']}")
    env = env_of(c)
    check(env.get("TAGSTREAM_DRILL_KAFKA_SASL_USERNAME") == "drill", "the drill task does not sign in as drill")
    check(env.get("TAGSTREAM_DRILL_MSK_IAM") == "true", "the drill task does not sign in with MSK IAM under AuthMode IAM")
    check(env.get("TAGSTREAM_DRILL_KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", "the drill task is not on SASL_SSL")
    check(env.get("TAGSTREAM_DRILL_PROCESSOR") == "/usr/local/bin/tagstream-processor",
          "the drill does not run the image's processor")
    faults = set(env["TAGSTREAM_DRILL_FAULT"].split(","))
    check(faults <= DRILL_FAULTS_IN_TASK, f"faults the task cannot inject: {sorted(faults - DRILL_FAULTS_IN_TASK)}")
    ((cond, secret),) = branches(c["Secrets"])
    check(cond == "ScramAuth", "the drill's password is read with AuthMode IAM")
    check(secret["Name"] == "TAGSTREAM_DRILL_KAFKA_SASL_PASSWORD"
          and "DrillScramSecretArn" in json.dumps(secret["ValueFrom"]), "the drill's password is not its own secret")
    role = app["Resources"][td["ExecutionRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    grants = json.dumps(role["Policies"])
    check("DrillScramSecretArn" in grants and "-ScramSecretArn" not in grants.replace("DrillScramSecretArn", ""),
          "the drill's execution role reads another secret than the drill's")
    task_role = td["TaskRoleArn"]["Fn::If"]
    check(task_role[0] == "IamAuth" and task_role[2] == {"Ref": "AWS::NoValue"},
          "the drill task has a task role with AuthMode SCRAM: it needs no AWS API there")
    grants = json.dumps(app["Resources"][task_role[1]["Fn::GetAtt"][0]]["Properties"]["Policies"])
    check("twitter_" not in grants and "${ApplicationId}" not in grants,
          "the drill's task role reaches the services' topics or group")
    check("DrillRunCommand" in app["Outputs"], "no DrillRunCommand output")
    print(f"drill: a task as SCRAM user drill (its own secret only) or with its own MSK IAM role, "
          f"faults {sorted(faults)}")


def check_admin_acls(args, admin_td):
    """The Kafka admin task grants the processor's and the producer's users
    exactly the ACLs of infra/acls.txt (where the tree has that file)."""
    path = os.path.join(args.source_dir, "infra", "acls.txt")
    if not os.path.exists(path):
        print("cfn: infra/acls.txt not in this tree; the admin task's ACLs not compared")
        return
    names = {"topic": "twitter_input", "input.topic": "twitter_input", "output.topic": "twitter_output",
             "application.id": "$APPLICATION_ID"}
    users = {"producer": "PRODUCER_USERNAME", "processor": "PROCESSOR_USERNAME", "verify": "PROCESSOR_USERNAME"}
    want = set()
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#") or words[0] not in users:
                continue
            role, res, pat, name, ops = words
            keys = re.findall(r"\$\{([a-z.]+)\}", name)
            if any(k not in names for k in keys):
                continue  # an optional setting (the dead-letter topic)
            for k in keys:
                name = name.replace("${" + k + "}", names[k])
            for op in ops.split(","):
                want.add((users[role], res, pat, name, op))
    (c,) = admin_td["ContainerDefinitions"]
    script = c["Command"][-1].replace("\\\n", " ")
    got = set()
    for line in script.splitlines():
        words = shlex.split(line.strip(), comments=True) if line.strip().startswith("grant ") else []
        if not words or not words[1].startswith("$") or words[1] == "$SASL_USERNAME":
            continue
        user = words[1].lstrip("$")
        ops = [words[i + 1] for i, w in enumerate(words) if w == "--operation"]
        pat = "prefixed" if "prefixed" in words else "literal"
        for res in ("topic", "group", "transactional-id"):
            if f"--{res}" in words:
                name = words[words.index(f"--{res}") + 1].replace("$APPLICATION_ID", "$APPLICATION_ID")
                for op in ops:
                    got.add((user, res, pat, name, op))
    check(got, "the Kafka admin task grants no ACLs to the tagstream users")
    # ACLs are for the SCRAM users: with AuthMode IAM, IAM policies decide
    # and the SCRAM users (their variables) do not exist.
    guard = script.find('[ "$AUTH_MODE" = SCRAM ] || exit 0')
    check(0 <= guard < script.find("grant "), "the Kafka admin task grants ACLs with AuthMode IAM too")
    # The drill's user: only its own resources, all named drill-...
    drill = set()
    for line in script.splitlines():
        words = shlex.split(line.strip(), comments=True) if line.strip().startswith("grant drill ") else []
        for res in ("topic", "group", "transactional-id", "cluster"):
            if f"--{res}" in words:
                name = words[words.index(f"--{res}") + 1] if res != "cluster" else ""
                drill.add((res, "prefixed" if "prefixed" in words else "literal", name))
    check(drill == {(r, "prefixed", "drill-") for r in ("topic", "group", "transactional-id")},
          f"the drill user's ACLs are {sorted(drill)}, not its drill- topics, groups and transactional ids")
    check(not want - got, f"the Kafka admin task does not grant {sorted(want - got)} (infra/acls.txt)")
    check(not got - want, f"the Kafka admin task grants more than infra/acls.txt: {sorted(got - want)}")
    print(f"cfn: the Kafka admin task grants exactly the {len(want)} ACLs of infra/acls.txt")


# -------------------------------------------------------------------- Compose


def kafka_version(source_dir):
    with open(os.path.join(source_dir, "infra", "local", "kafka")) as f:
        m = re.search(r"^KAFKA_VERSION=(\S+)", f.read(), re.M)
    check(m, "no KAFKA_VERSION in infra/local/kafka")
    return m.group(1)


def cmd_compose(args):
    path = os.path.join(args.source_dir, "infra", "docker-compose.yml")
    cjs = tool(args, "check-jsonschema")
    schema = ["--builtin-schema", "vendor.compose-spec"]
    out = run([cjs, *schema, path])
    print(out.stdout + out.stderr, end="")
    check(out.returncode == 0, "infra/docker-compose.yml does not follow the Compose Specification")

    with open(path) as f:
        text = f.read()
    broken = text.replace("    stop_grace_period: 60s\n", "    stop_grace_period: 60s\n    restart_policy: always\n", 1)
    check(broken != text, "the processor's stop_grace_period: 60s is missing")
    compose = os.path.join(args.venv, "bin", "docker-compose")
    has_compose = os.access(compose, os.X_OK)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
    with tempfile.TemporaryDirectory() as d:
        # the same directory layout, so that the build context resolves
        os.makedirs(os.path.join(d, "infra"))
        bad = os.path.join(d, "infra", "docker-compose.yml")
        with open(bad, "w") as f:
            f.write(broken)
        out = run([cjs, *schema, bad])
        check(out.returncode != 0, "check-jsonschema accepted an unknown service key")
        if has_compose:
            out = run([compose, "-f", bad, "config", "--quiet"], env=env, cwd=d)
            check(out.returncode != 0 and "restart_policy" in out.stderr,
                  f"docker-compose accepted an unknown service key: {out.stderr}")

    if not has_compose:
        print("compose: docker-compose is published for Linux x86-64 only; schema checked, not loaded")
        return 0
    out = run([compose, "-f", path, "config", "--format", "json"], env=env)
    check(out.returncode == 0, f"docker-compose config: {out.stderr}")
    cfg = json.loads(out.stdout)
    s = cfg["services"]
    check({"kafka", "topics", "producer", "processor"} <= set(s), f"services: {sorted(s)}")
    version = kafka_version(args.source_dir)
    for name in ("kafka", "topics"):
        check(s[name]["image"] == f"apache/kafka:{version}",
              f"{name} runs {s[name]['image']}, not apache/kafka:{version} as infra/local/kafka")
    with open(os.path.join(args.source_dir, "infra", "aws", "app.yaml")) as f:
        check(f"Default: apache/kafka:{version}\n" in f.read(), "app.yaml's KafkaToolsImage is another Kafka")
    check(s["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "Kafka creates topics itself")
    check("healthcheck" in s["kafka"], "kafka has no health check")
    check(s["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy", "topics do not wait for Kafka")
    for name in ("producer", "processor"):
        check(s[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully",
              f"{name} does not wait for the topics")
        check(s[name]["build"]["context"] == args.source_dir.rstrip("/"), f"{name} builds from {s[name]['build']}")
        check(s[name].get("stop_grace_period"), f"{name} has no stop_grace_period")
    for name, svc in s.items():
        for port in svc.get("ports", []):
            check(port.get("host_ip") == "127.0.0.1",
                  f"{name} publishes port {port.get('published')} on {port.get('host_ip') or 'every address'}, "
                  "not on 127.0.0.1 only")
    vols = s["processor"].get("volumes", [])
    check([v for v in vols if v["type"] == "volume" and v["target"] == "/var/lib/tagstream"],
          "the processor's state is not on a named volume")
    grace = s["processor"]["stop_grace_period"]
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", grace)
    check(m and int(m.group(1) or 0) * 60 + int(m.group(2) or 0) >= 30, f"processor stop_grace_period {grace} < 30 s")
    print(f"compose: valid (schema and docker-compose {run([compose, 'version', '--short']).stdout.strip()}); "
          f"services {sorted(s)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["cfn", "compose", "dockerfile", "lint", "packages", "libs"])
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--venv", default=os.path.dirname(os.path.dirname(sys.executable)))
    ap.add_argument("--bin-dir")
    args = ap.parse_args()
    args.source_dir = os.path.abspath(args.source_dir)
    try:
        rc = globals()["cmd_" + args.command](args)
    except Failed as e:
        print(f"{args.command}: FAILED: {e}", file=sys.stderr)
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
