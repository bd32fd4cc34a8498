// A JDBC client of the custdim SQL endpoint (pgjdbc), run by tests/ldw/test_sql_endpoint.py with
// `java -cp postgresql.jar JdbcProbe.java URL USER PASSWORD`. Prints one "key=value" line per check.
import java.sql.*;
import java.util.*;

public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        try (Connection con = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = con.getMetaData();
            System.out.println("product=" + meta.getDatabaseProductName() + " " + meta.getDatabaseMajorVersion());
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            System.out.println("tables=" + String.join(",", tables));
            List<String> views = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"VIEW"})) {
                while (rs.next()) views.add(rs.getString("TABLE_NAME"));
            }
            System.out.println("views=" + String.join(",", views));
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, "public", "Customer", "%")) {
                while (rs.next()) columns.add(rs.getString("COLUMN_NAME"));
            }
            System.out.println("customer_columns=" + String.join(",", columns));

            String sql = "SELECT count(*) AS n, sum(\"Amount\") AS total FROM fact_activity "
                + "WHERE \"DateKey\" >= ? AND \"ActivityDate\" <= ? AND \"ActivityType\" = ?";
            try (PreparedStatement ps = con.prepareStatement(sql)) {
                ps.setInt(1, 20000101);
                ps.setDate(2, java.sql.Date.valueOf("2100-01-01"));
                ps.setString(3, "SalesOrder");
                for (int round = 0; round < 6; round++) {  // pgjdbc switches to a named server-side statement at 5
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        System.out.println("prepared_" + round + "=" + rs.getLong("n") + ";" + rs.getBigDecimal("total"));
                    }
                }
            }
            con.setAutoCommit(false);  // fetch size only pages inside a transaction
            try (Statement st = con.createStatement()) {
                st.setFetchSize(100);
                long rows = 0;
                try (ResultSet rs = st.executeQuery("SELECT \"CustomerId\" FROM \"Customer\" ORDER BY \"CustomerId\"")) {
                    while (rs.next()) rows++;
                }
                System.out.println("fetched=" + rows);
            }
            con.commit();
            try (Statement st = con.createStatement()) {
                st.executeUpdate("DROP VIEW \"Customer\"");
                System.out.println("drop=accepted");
            } catch (SQLException e) {
                System.out.println("drop=" + e.getSQLState());
            }
        }
    }
}
