-- custdim: the published customer data as DuckDB objects (`custdim ddl --dialect duckdb`).
-- Export folder: /data/custdim/export
-- Snapshot: 20260105T101500.000000-a1b2c3; data format: parquet.
-- One object per exported entity, then the derived views (dim_customer, fact_activity, dim_date).
-- Run it again after every publish: the objects point at one snapshot's folders.
-- The views go to the default schema, like custdim's own catalog.

CREATE OR REPLACE VIEW "Customer" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/Customer/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "AlternateKey" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/AlternateKey/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "MatchPairs" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/MatchPairs/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "UnifiedActivity" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/UnifiedActivity/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "CustomerProvenance" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/CustomerProvenance/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "IdChangeLog" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/IdChangeLog/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "CustomerMeasure" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/CustomerMeasure/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "BusinessMeasure" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/BusinessMeasure/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "SegmentMembership" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/SegmentMembership/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "SegmentHistory" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/SegmentHistory/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "ClvPrediction" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ClvPrediction/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "ChurnPrediction" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ChurnPrediction/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "BrandAffinity" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/BrandAffinity/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "InterestAffinity" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/InterestAffinity/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "ProductRecommendation" AS
SELECT
  *
FROM READ_PARQUET(
  [
    '/data/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ProductRecommendation/*.parquet'
  ]
);

CREATE OR REPLACE VIEW "dim_customer" AS
SELECT
  "t40".*
  EXCLUDE ("_s_id")
FROM (
  SELECT
    "t39"."CustomerId",
    "t39"."FirstName",
    "t39"."LastName",
    "t39"."Email",
    "t39"."Phone",
    "t39"."City",
    "t39"."PostalCode",
    "t39"."PreviousCustomerId",
    "t39"."SourceRecordCount",
    "t39"."FirstActivityAt",
    "t39"."LastActivityAt",
    "t39"."ActivityCount",
    "t39"."TotalAmount",
    "t39"."TotalSpend",
    "t39"."OrderCount",
    "t39"."CLVScore",
    "t39"."ValueBand",
    "t39"."ChurnScore",
    "t39"."RiskBand",
    "t39"."TopBrands",
    "t39"."TopInterests",
    "t20"."_s_id",
    "t20"."Segments"
  FROM (
    SELECT
      "t37".*
      EXCLUDE ("_p_id")
    FROM (
      SELECT
        "t36"."CustomerId",
        "t36"."FirstName",
        "t36"."LastName",
        "t36"."Email",
        "t36"."Phone",
        "t36"."City",
        "t36"."PostalCode",
        "t36"."PreviousCustomerId",
        "t36"."SourceRecordCount",
        "t36"."FirstActivityAt",
        "t36"."LastActivityAt",
        "t36"."ActivityCount",
        "t36"."TotalAmount",
        "t36"."TotalSpend",
        "t36"."OrderCount",
        "t36"."CLVScore",
        "t36"."ValueBand",
        "t36"."ChurnScore",
        "t36"."RiskBand",
        "t36"."TopBrands",
        "t23"."_p_id",
        "t23"."TopInterests"
      FROM (
        SELECT
          "t34".*
          EXCLUDE ("_p_id")
        FROM (
          SELECT
            "t33"."CustomerId",
            "t33"."FirstName",
            "t33"."LastName",
            "t33"."Email",
            "t33"."Phone",
            "t33"."City",
            "t33"."PostalCode",
            "t33"."PreviousCustomerId",
            "t33"."SourceRecordCount",
            "t33"."FirstActivityAt",
            "t33"."LastActivityAt",
            "t33"."ActivityCount",
            "t33"."TotalAmount",
            "t33"."TotalSpend",
            "t33"."OrderCount",
            "t33"."CLVScore",
            "t33"."ValueBand",
            "t33"."ChurnScore",
            "t33"."RiskBand",
            "t24"."_p_id",
            "t24"."TopBrands"
          FROM (
            SELECT
              "t31".*
              EXCLUDE ("_p_id")
            FROM (
              SELECT
                "t30"."CustomerId",
                "t30"."FirstName",
                "t30"."LastName",
                "t30"."Email",
                "t30"."Phone",
                "t30"."City",
                "t30"."PostalCode",
                "t30"."PreviousCustomerId",
                "t30"."SourceRecordCount",
                "t30"."FirstActivityAt",
                "t30"."LastActivityAt",
                "t30"."ActivityCount",
                "t30"."TotalAmount",
                "t30"."TotalSpend",
                "t30"."OrderCount",
                "t30"."CLVScore",
                "t30"."ValueBand",
                "t14"."_p_id",
                "t14"."ChurnScore",
                "t14"."RiskBand"
              FROM (
                SELECT
                  "t28".*
                  EXCLUDE ("_p_id")
                FROM (
                  SELECT
                    "t27"."CustomerId",
                    "t27"."FirstName",
                    "t27"."LastName",
                    "t27"."Email",
                    "t27"."Phone",
                    "t27"."City",
                    "t27"."PostalCode",
                    "t27"."PreviousCustomerId",
                    "t27"."SourceRecordCount",
                    "t27"."FirstActivityAt",
                    "t27"."LastActivityAt",
                    "t27"."ActivityCount",
                    "t27"."TotalAmount",
                    "t27"."TotalSpend",
                    "t27"."OrderCount",
                    "t15"."_p_id",
                    "t15"."CLVScore",
                    "t15"."ValueBand"
                  FROM (
                    SELECT
                      "t25".*
                      EXCLUDE ("_m_id")
                    FROM (
                      SELECT
                        "t8"."CustomerId",
                        "t8"."FirstName",
                        "t8"."LastName",
                        "t8"."Email",
                        "t8"."Phone",
                        "t8"."City",
                        "t8"."PostalCode",
                        "t8"."PreviousCustomerId",
                        "t8"."SourceRecordCount",
                        "t19"."FirstActivityAt",
                        "t19"."LastActivityAt",
                        COALESCE("t19"."ActivityCount", 0) AS "ActivityCount",
                        COALESCE("t19"."TotalAmount", 0.0) AS "TotalAmount",
                        "t17"."_m_id",
                        "t17"."TotalSpend",
                        "t17"."OrderCount"
                      FROM "Customer" AS "t8"
                      LEFT OUTER JOIN (
                        SELECT
                          "t6"."CustomerId",
                          MIN("t6"."ActivityTimeStamp") AS "FirstActivityAt",
                          MAX("t6"."ActivityTimeStamp") AS "LastActivityAt",
                          COUNT(*) AS "ActivityCount",
                          SUM("t6"."Amount") AS "TotalAmount"
                        FROM "UnifiedActivity" AS "t6"
                        GROUP BY
                          1
                      ) AS "t19"
                        ON "t8"."CustomerId" = "t19"."CustomerId"
                      LEFT OUTER JOIN (
                        SELECT
                          "t7"."CustomerId" AS "_m_id",
                          "t7"."TotalSpend",
                          "t7"."OrderCount"
                        FROM "CustomerMeasure" AS "t7"
                      ) AS "t17"
                        ON "t8"."CustomerId" = "t17"."_m_id"
                    ) AS "t25"
                  ) AS "t27"
                  LEFT OUTER JOIN (
                    SELECT
                      "t4"."CustomerId" AS "_p_id",
                      "t4"."CLVScore",
                      "t4"."ValueBand"
                    FROM "ClvPrediction" AS "t4"
                  ) AS "t15"
                    ON "t27"."CustomerId" = "t15"."_p_id"
                ) AS "t28"
              ) AS "t30"
              LEFT OUTER JOIN (
                SELECT
                  "t3"."CustomerId" AS "_p_id",
                  "t3"."ChurnScore",
                  "t3"."RiskBand"
                FROM "ChurnPrediction" AS "t3"
              ) AS "t14"
                ON "t30"."CustomerId" = "t14"."_p_id"
            ) AS "t31"
          ) AS "t33"
          LEFT OUTER JOIN (
            SELECT
              "t13"."CustomerId" AS "_p_id",
              ARRAY_AGG("t13"."Name" ORDER BY "t13"."Rank" ASC) FILTER(WHERE
                "t13"."Name" IS NOT NULL) AS "TopBrands"
            FROM (
              SELECT
                *
              FROM "BrandAffinity" AS "t2"
              WHERE
                "t2"."Rank" <= 3
            ) AS "t13"
            GROUP BY
              1
          ) AS "t24"
            ON "t33"."CustomerId" = "t24"."_p_id"
        ) AS "t34"
      ) AS "t36"
      LEFT OUTER JOIN (
        SELECT
          "t12"."CustomerId" AS "_p_id",
          ARRAY_AGG("t12"."Name" ORDER BY "t12"."Rank" ASC) FILTER(WHERE
            "t12"."Name" IS NOT NULL) AS "TopInterests"
        FROM (
          SELECT
            *
          FROM "InterestAffinity" AS "t1"
          WHERE
            "t1"."Rank" <= 3
        ) AS "t12"
        GROUP BY
          1
      ) AS "t23"
        ON "t36"."CustomerId" = "t23"."_p_id"
    ) AS "t37"
  ) AS "t39"
  LEFT OUTER JOIN (
    SELECT
      "t0"."CustomerId" AS "_s_id",
      ARRAY_AGG("t0"."SegmentName" ORDER BY "t0"."SegmentName" ASC) FILTER(WHERE
        "t0"."SegmentName" IS NOT NULL) AS "Segments"
    FROM "SegmentMembership" AS "t0"
    GROUP BY
      1
  ) AS "t20"
    ON "t39"."CustomerId" = "t20"."_s_id"
) AS "t40";

CREATE OR REPLACE VIEW "fact_activity" AS
SELECT
  "t0"."ActivityId",
  "t0"."CustomerId",
  "t0"."ActivityType",
  CAST((
    EXTRACT(year FROM CAST("t0"."ActivityTimeStamp" AS DATE)) * 10000
  ) + (
    EXTRACT(month FROM CAST("t0"."ActivityTimeStamp" AS DATE)) * 100
  ) + EXTRACT(day FROM CAST("t0"."ActivityTimeStamp" AS DATE)) AS INT) AS "DateKey",
  CAST("t0"."ActivityTimeStamp" AS DATE) AS "ActivityDate",
  "t0"."SourceTableName",
  "t0"."SourceActivityId",
  "t0"."ActivityTimeStamp",
  "t0"."Amount",
  "t0"."IsReturn",
  "t0"."Title",
  "t0"."Product",
  "t0"."Brand",
  "t0"."Category",
  "t0"."status"
FROM "UnifiedActivity" AS "t0";

CREATE OR REPLACE VIEW "dim_date" AS
WITH "t21" AS (
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          4 AS "d"
      ) AS "t1"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          5 AS "d"
      ) AS "t2"
    ) AS "t11"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          6 AS "d"
      ) AS "t3"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          7 AS "d"
      ) AS "t4"
    ) AS "t12"
  ) AS "t16"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          8 AS "d"
      ) AS "t5"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          9 AS "d"
      ) AS "t6"
    ) AS "t13"
    UNION ALL
    SELECT
      *
    FROM (
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            0 AS "d"
        ) AS "t7"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            1 AS "d"
        ) AS "t8"
      ) AS "t14"
      UNION ALL
      SELECT
        *
      FROM (
        SELECT
          *
        FROM (
          SELECT
            2 AS "d"
        ) AS "t9"
        UNION ALL
        SELECT
          *
        FROM (
          SELECT
            3 AS "d"
        ) AS "t10"
      ) AS "t15"
    ) AS "t17"
  ) AS "t19"
)
SELECT
  CAST((
    EXTRACT(year FROM "t36"."Date") * 10000
  ) + (
    EXTRACT(month FROM "t36"."Date") * 100
  ) + EXTRACT(day FROM "t36"."Date") AS INT) AS "DateKey",
  "t36"."Date",
  EXTRACT(year FROM "t36"."Date") AS "Year",
  EXTRACT(quarter FROM "t36"."Date") AS "Quarter",
  EXTRACT(month FROM "t36"."Date") AS "Month",
  CASE EXTRACT(month FROM "t36"."Date")
    WHEN 1
    THEN 'January'
    WHEN 2
    THEN 'February'
    WHEN 3
    THEN 'March'
    WHEN 4
    THEN 'April'
    WHEN 5
    THEN 'May'
    WHEN 6
    THEN 'June'
    WHEN 7
    THEN 'July'
    WHEN 8
    THEN 'August'
    WHEN 9
    THEN 'September'
    WHEN 10
    THEN 'October'
    WHEN 11
    THEN 'November'
    WHEN 12
    THEN 'December'
    ELSE NULL
  END AS "MonthName",
  EXTRACT(day FROM "t36"."Date") AS "Day",
  (
    (
      (
        DATE_DIFF('DAY', MAKE_DATE(1900, 1, 1), "t36"."Date") % 7
      ) + 7
    ) % 7
  ) + 1 AS "DayOfWeek",
  CASE (
      (
        (
          DATE_DIFF('DAY', MAKE_DATE(1900, 1, 1), "t36"."Date") % 7
        ) + 7
      ) % 7
    ) + 1
    WHEN 1
    THEN 'Monday'
    WHEN 2
    THEN 'Tuesday'
    WHEN 3
    THEN 'Wednesday'
    WHEN 4
    THEN 'Thursday'
    WHEN 5
    THEN 'Friday'
    WHEN 6
    THEN 'Saturday'
    WHEN 7
    THEN 'Sunday'
    ELSE NULL
  END AS "DayName",
  EXTRACT(week FROM "t36"."Date") AS "WeekOfYear",
  (
    (
      (
        (
          DATE_DIFF('DAY', MAKE_DATE(1900, 1, 1), "t36"."Date") % 7
        ) + 7
      ) % 7
    ) + 1
  ) >= 6 AS "IsWeekend"
FROM (
  SELECT
    CAST("t35"."_first" + TO_DAYS("t35"."n") AS DATE) AS "Date"
  FROM (
    SELECT
      "t20"."_first",
      "t20"."_last",
      "t34"."n"
    FROM (
      SELECT
        MIN(CAST("t0"."ActivityTimeStamp" AS DATE)) AS "_first",
        MAX(CAST("t0"."ActivityTimeStamp" AS DATE)) AS "_last"
      FROM "UnifiedActivity" AS "t0"
    ) AS "t20"
    CROSS JOIN (
      SELECT
        "t28"."d0" + "t29"."d1" + "t30"."d2" + "t31"."d3" + "t32"."d4" AS "n"
      FROM (
        SELECT
          "t22"."d" * 1 AS "d0"
        FROM "t21" AS "t22"
      ) AS "t28"
      CROSS JOIN (
        SELECT
          "t22"."d" * 10 AS "d1"
        FROM "t21" AS "t22"
      ) AS "t29"
      CROSS JOIN (
        SELECT
          "t22"."d" * 100 AS "d2"
        FROM "t21" AS "t22"
      ) AS "t30"
      CROSS JOIN (
        SELECT
          "t22"."d" * 1000 AS "d3"
        FROM "t21" AS "t22"
      ) AS "t31"
      CROSS JOIN (
        SELECT
          "t22"."d" * 10000 AS "d4"
        FROM "t21" AS "t22"
      ) AS "t32"
    ) AS "t34"
  ) AS "t35"
  WHERE
    "t35"."n" <= DATE_DIFF('DAY', "t35"."_first", "t35"."_last")
) AS "t36";

