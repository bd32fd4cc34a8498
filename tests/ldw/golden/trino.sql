-- custdim: the published customer data as Trino objects (`custdim ddl --dialect trino`).
-- Export folder: s3://bucket/custdim/export
-- Snapshot: 20260105T101500.000000-a1b2c3; data format: parquet.
-- One object per exported entity, then the derived views (dim_customer, fact_activity, dim_date).
-- Run it again after every publish: the objects point at one snapshot's folders.
-- The tables are external (Hive connector): dropping one keeps its files.

CREATE SCHEMA IF NOT EXISTS hive.custdim;

DROP TABLE IF EXISTS hive.custdim."Customer";

CREATE TABLE hive.custdim."Customer" (
  "CustomerId" VARCHAR,
  "FirstName" VARCHAR,
  "LastName" VARCHAR,
  "Email" VARCHAR,
  "Phone" VARCHAR,
  "City" VARCHAR,
  "PostalCode" VARCHAR,
  "PreviousCustomerId" VARCHAR,
  "SourceRecordCount" INTEGER
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/Customer',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."AlternateKey";

CREATE TABLE hive.custdim."AlternateKey" (
  "CustomerId" VARCHAR,
  "SourceName" VARCHAR,
  "TableName" VARCHAR,
  "SourceKey" VARCHAR,
  "IsDedupeWinner" BOOLEAN
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/AlternateKey',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."MatchPairs";

CREATE TABLE hive.custdim."MatchPairs" (
  "CustomerId" VARCHAR,
  "LeftSourceName" VARCHAR,
  "LeftTableName" VARCHAR,
  "LeftSourceKey" VARCHAR,
  "RightSourceName" VARCHAR,
  "RightTableName" VARCHAR,
  "RightSourceKey" VARCHAR,
  "RuleName" VARCHAR,
  "Score" DOUBLE,
  "ConditionScores" VARCHAR,
  "BlockingKey" VARCHAR,
  "Stage" VARCHAR
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/MatchPairs',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."UnifiedActivity";

CREATE TABLE hive.custdim."UnifiedActivity" (
  "CustomerId" VARCHAR,
  "ActivityId" VARCHAR,
  "SourceTableName" VARCHAR,
  "SourceActivityId" VARCHAR,
  "ActivityType" VARCHAR,
  "ActivityTimeStamp" TIMESTAMP(3),
  "Amount" DOUBLE,
  "IsReturn" BOOLEAN,
  "Title" VARCHAR,
  "Product" VARCHAR,
  "Brand" VARCHAR,
  "Category" VARCHAR,
  "status" VARCHAR
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/UnifiedActivity',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."CustomerProvenance";

CREATE TABLE hive.custdim."CustomerProvenance" (
  "CustomerId" VARCHAR,
  "Field" VARCHAR,
  "SourceName" VARCHAR,
  "TableName" VARCHAR,
  "SourceKey" VARCHAR,
  "Policy" VARCHAR
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/CustomerProvenance',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."IdChangeLog";

CREATE TABLE hive.custdim."IdChangeLog" (
  "RunId" VARCHAR,
  "CustomerId" VARCHAR,
  "Event" VARCHAR,
  "RelatedCustomerIds" VARCHAR,
  "RecordCount" BIGINT
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/IdChangeLog',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."CustomerMeasure";

CREATE TABLE hive.custdim."CustomerMeasure" (
  "CustomerId" VARCHAR,
  "TotalSpend" DOUBLE,
  "OrderCount" BIGINT
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/CustomerMeasure',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."BusinessMeasure";

CREATE TABLE hive.custdim."BusinessMeasure" (
  "MeasureName" VARCHAR,
  "GroupBy" VARCHAR,
  "GroupKey" VARCHAR,
  "Value" DOUBLE
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/BusinessMeasure',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."SegmentMembership";

CREATE TABLE hive.custdim."SegmentMembership" (
  "SegmentName" VARCHAR,
  "CustomerId" VARCHAR
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/SegmentMembership',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."SegmentHistory";

CREATE TABLE hive.custdim."SegmentHistory" (
  "RunId" VARCHAR,
  "AsOf" DATE,
  "RunAt" TIMESTAMP(3),
  "SegmentName" VARCHAR,
  "Members" BIGINT,
  "Added" BIGINT,
  "Removed" INTEGER
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/SegmentHistory',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."ClvPrediction";

CREATE TABLE hive.custdim."ClvPrediction" (
  "CustomerId" VARCHAR,
  "Frequency" BIGINT,
  "Recency" DOUBLE,
  "Age" DOUBLE,
  "ExpectedPurchases" DOUBLE,
  "ProbabilityAlive" DOUBLE,
  "ExpectedAverageValue" DOUBLE,
  "CLVScore" DOUBLE,
  "ValueBand" VARCHAR
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ClvPrediction',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."ChurnPrediction";

CREATE TABLE hive.custdim."ChurnPrediction" (
  "CustomerId" VARCHAR,
  "ChurnScore" DOUBLE,
  "IsChurn" BOOLEAN,
  "RiskBand" VARCHAR,
  "TopFactors" ARRAY(VARCHAR)
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ChurnPrediction',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."BrandAffinity";

CREATE TABLE hive.custdim."BrandAffinity" (
  "CustomerId" VARCHAR,
  "Name" VARCHAR,
  "Score" BIGINT,
  "Level" VARCHAR,
  "Rank" BIGINT,
  "Spend" DOUBLE,
  "Share" DOUBLE,
  "PopulationShare" DOUBLE
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/BrandAffinity',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."InterestAffinity";

CREATE TABLE hive.custdim."InterestAffinity" (
  "CustomerId" VARCHAR,
  "Name" VARCHAR,
  "Score" BIGINT,
  "Level" VARCHAR,
  "Rank" BIGINT,
  "Spend" DOUBLE,
  "Share" DOUBLE,
  "PopulationShare" DOUBLE
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/InterestAffinity',
  format='PARQUET'
);

DROP TABLE IF EXISTS hive.custdim."ProductRecommendation";

CREATE TABLE hive.custdim."ProductRecommendation" (
  "CustomerId" VARCHAR,
  "ProductId" VARCHAR,
  "Rank" BIGINT,
  "Score" DOUBLE
)
WITH (
  external_location='s3://bucket/custdim/export/snapshots/20260105T101500.000000-a1b2c3/ProductRecommendation',
  format='PARQUET'
);

CREATE OR REPLACE VIEW hive.custdim."dim_customer" AS
SELECT
  "t40"."CustomerId",
  "t40"."FirstName",
  "t40"."LastName",
  "t40"."Email",
  "t40"."Phone",
  "t40"."City",
  "t40"."PostalCode",
  "t40"."PreviousCustomerId",
  "t40"."SourceRecordCount",
  "t40"."FirstActivityAt",
  "t40"."LastActivityAt",
  "t40"."ActivityCount",
  "t40"."TotalAmount",
  "t40"."TotalSpend",
  "t40"."OrderCount",
  "t40"."CLVScore",
  "t40"."ValueBand",
  "t40"."ChurnScore",
  "t40"."RiskBand",
  "t40"."TopBrands",
  "t40"."TopInterests",
  "t40"."Segments"
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
      "t37"."CustomerId",
      "t37"."FirstName",
      "t37"."LastName",
      "t37"."Email",
      "t37"."Phone",
      "t37"."City",
      "t37"."PostalCode",
      "t37"."PreviousCustomerId",
      "t37"."SourceRecordCount",
      "t37"."FirstActivityAt",
      "t37"."LastActivityAt",
      "t37"."ActivityCount",
      "t37"."TotalAmount",
      "t37"."TotalSpend",
      "t37"."OrderCount",
      "t37"."CLVScore",
      "t37"."ValueBand",
      "t37"."ChurnScore",
      "t37"."RiskBand",
      "t37"."TopBrands",
      "t37"."TopInterests"
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
          "t34"."CustomerId",
          "t34"."FirstName",
          "t34"."LastName",
          "t34"."Email",
          "t34"."Phone",
          "t34"."City",
          "t34"."PostalCode",
          "t34"."PreviousCustomerId",
          "t34"."SourceRecordCount",
          "t34"."FirstActivityAt",
          "t34"."LastActivityAt",
          "t34"."ActivityCount",
          "t34"."TotalAmount",
          "t34"."TotalSpend",
          "t34"."OrderCount",
          "t34"."CLVScore",
          "t34"."ValueBand",
          "t34"."ChurnScore",
          "t34"."RiskBand",
          "t34"."TopBrands"
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
              "t31"."CustomerId",
              "t31"."FirstName",
              "t31"."LastName",
              "t31"."Email",
              "t31"."Phone",
              "t31"."City",
              "t31"."PostalCode",
              "t31"."PreviousCustomerId",
              "t31"."SourceRecordCount",
              "t31"."FirstActivityAt",
              "t31"."LastActivityAt",
              "t31"."ActivityCount",
              "t31"."TotalAmount",
              "t31"."TotalSpend",
              "t31"."OrderCount",
              "t31"."CLVScore",
              "t31"."ValueBand",
              "t31"."ChurnScore",
              "t31"."RiskBand"
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
                  "t28"."CustomerId",
                  "t28"."FirstName",
                  "t28"."LastName",
                  "t28"."Email",
                  "t28"."Phone",
                  "t28"."City",
                  "t28"."PostalCode",
                  "t28"."PreviousCustomerId",
                  "t28"."SourceRecordCount",
                  "t28"."FirstActivityAt",
                  "t28"."LastActivityAt",
                  "t28"."ActivityCount",
                  "t28"."TotalAmount",
                  "t28"."TotalSpend",
                  "t28"."OrderCount",
                  "t28"."CLVScore",
                  "t28"."ValueBand"
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
                      "t25"."CustomerId",
                      "t25"."FirstName",
                      "t25"."LastName",
                      "t25"."Email",
                      "t25"."Phone",
                      "t25"."City",
                      "t25"."PostalCode",
                      "t25"."PreviousCustomerId",
                      "t25"."SourceRecordCount",
                      "t25"."FirstActivityAt",
                      "t25"."LastActivityAt",
                      "t25"."ActivityCount",
                      "t25"."TotalAmount",
                      "t25"."TotalSpend",
                      "t25"."OrderCount"
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
                        COALESCE("t19"."TotalAmount", CAST(0.0 AS DOUBLE)) AS "TotalAmount",
                        "t17"."_m_id",
                        "t17"."TotalSpend",
                        "t17"."OrderCount"
                      FROM hive.custdim."Customer" AS "t8"
                      LEFT OUTER JOIN (
                        SELECT
                          "t6"."CustomerId",
                          MIN("t6"."ActivityTimeStamp") AS "FirstActivityAt",
                          MAX("t6"."ActivityTimeStamp") AS "LastActivityAt",
                          COUNT(*) AS "ActivityCount",
                          SUM("t6"."Amount") AS "TotalAmount"
                        FROM hive.custdim."UnifiedActivity" AS "t6"
                        GROUP BY
                          1
                      ) AS "t19"
                        ON "t8"."CustomerId" = "t19"."CustomerId"
                      LEFT OUTER JOIN (
                        SELECT
                          "t7"."CustomerId" AS "_m_id",
                          "t7"."TotalSpend",
                          "t7"."OrderCount"
                        FROM hive.custdim."CustomerMeasure" AS "t7"
                      ) AS "t17"
                        ON "t8"."CustomerId" = "t17"."_m_id"
                    ) AS "t25"
                  ) AS "t27"
                  LEFT OUTER JOIN (
                    SELECT
                      "t4"."CustomerId" AS "_p_id",
                      "t4"."CLVScore",
                      "t4"."ValueBand"
                    FROM hive.custdim."ClvPrediction" AS "t4"
                  ) AS "t15"
                    ON "t27"."CustomerId" = "t15"."_p_id"
                ) AS "t28"
              ) AS "t30"
              LEFT OUTER JOIN (
                SELECT
                  "t3"."CustomerId" AS "_p_id",
                  "t3"."ChurnScore",
                  "t3"."RiskBand"
                FROM hive.custdim."ChurnPrediction" AS "t3"
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
              FROM hive.custdim."BrandAffinity" AS "t2"
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
          FROM hive.custdim."InterestAffinity" AS "t1"
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
    FROM hive.custdim."SegmentMembership" AS "t0"
    GROUP BY
      1
  ) AS "t20"
    ON "t39"."CustomerId" = "t20"."_s_id"
) AS "t40";

CREATE OR REPLACE VIEW hive.custdim."fact_activity" AS
SELECT
  "t0"."ActivityId",
  "t0"."CustomerId",
  "t0"."ActivityType",
  CAST((
    EXTRACT(year FROM DATE("t0"."ActivityTimeStamp")) * 10000
  ) + (
    EXTRACT(month FROM DATE("t0"."ActivityTimeStamp")) * 100
  ) + EXTRACT(day FROM DATE("t0"."ActivityTimeStamp")) AS INTEGER) AS "DateKey",
  DATE("t0"."ActivityTimeStamp") AS "ActivityDate",
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
FROM hive.custdim."UnifiedActivity" AS "t0";

CREATE OR REPLACE VIEW hive.custdim."dim_date" AS
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
  ) + EXTRACT(day FROM "t36"."Date") AS INTEGER) AS "DateKey",
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
        DATE_DIFF(
          'DAY',
          DATE_TRUNC('DAY', FROM_ISO8601_DATE(FORMAT('%04d-%02d-%02d', 1900, 1, 1))),
          DATE_TRUNC('DAY', "t36"."Date")
        ) % 7
      ) + 7
    ) % 7
  ) + 1 AS "DayOfWeek",
  CASE (
      (
        (
          DATE_DIFF(
            'DAY',
            DATE_TRUNC('DAY', FROM_ISO8601_DATE(FORMAT('%04d-%02d-%02d', 1900, 1, 1))),
            DATE_TRUNC('DAY', "t36"."Date")
          ) % 7
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
  WEEK_OF_YEAR("t36"."Date") AS "WeekOfYear",
  (
    (
      (
        (
          DATE_DIFF(
            'DAY',
            DATE_TRUNC('DAY', FROM_ISO8601_DATE(FORMAT('%04d-%02d-%02d', 1900, 1, 1))),
            DATE_TRUNC('DAY', "t36"."Date")
          ) % 7
        ) + 7
      ) % 7
    ) + 1
  ) >= 6 AS "IsWeekend"
FROM (
  SELECT
    CAST("t35"."_first" + PARSE_DURATION(CONCAT(CAST("t35"."n" AS VARCHAR), 'd')) AS DATE) AS "Date"
  FROM (
    SELECT
      "t20"."_first",
      "t20"."_last",
      "t34"."n"
    FROM (
      SELECT
        MIN(DATE("t0"."ActivityTimeStamp")) AS "_first",
        MAX(DATE("t0"."ActivityTimeStamp")) AS "_last"
      FROM hive.custdim."UnifiedActivity" AS "t0"
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
    "t35"."n" <= DATE_DIFF('DAY', DATE_TRUNC('DAY', "t35"."_first"), DATE_TRUNC('DAY', "t35"."_last"))
) AS "t36";

