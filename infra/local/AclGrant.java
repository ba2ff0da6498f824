// AclGrant: create ALLOW ACLs for one principal in one Admin request, so
// that `infra/local/kafka grant` starts one JVM instead of one per line.
//
//   java -cp 'KAFKA_LIBS/*' AclGrant.java BOOTSTRAP < lines
//
// Each input line: PRINCIPAL RESOURCE PATTERN NAME OPERATION[,OPERATION...],
// as in infra/acls.txt with the principal for the role (resource: topic, group,
// transactional-id or cluster; pattern: literal or prefixed).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class AclGrant {
    // "IdempotentWrite" -> IDEMPOTENT_WRITE, "transactional-id" -> TRANSACTIONAL_ID
    static String constant(String s) {
        return s.replaceAll("([a-z])([A-Z])", "$1_$2").replace('-', '_').toUpperCase(Locale.ROOT);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: AclGrant BOOTSTRAP < lines");
            System.exit(2);
        }
        List<AclBinding> acls = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] f = line.trim().split("\\s+");
            if (f.length != 5)
                continue;
            ResourcePattern rp = new ResourcePattern(ResourceType.valueOf(constant(f[1])), f[3],
                PatternType.valueOf(constant(f[2])));
            for (String op : f[4].split(","))
                acls.add(new AclBinding(rp, new AccessControlEntry(f[0], "*",
                    AclOperation.valueOf(constant(op)), AclPermissionType.ALLOW)));
        }
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(p)) {
            admin.createAcls(acls).all().get();
        }
        for (AclBinding b : acls)
            System.out.println(b);
    }
}
