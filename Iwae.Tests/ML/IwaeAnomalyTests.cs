using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.ML;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Iwae.Tests.ML;

/// <summary>
/// The ML.NET door: fit on rows where the anomalies are obvious, score, save and load, and every refused input in one
/// message. Each fit trains a small model for a few epochs (about a second).
/// </summary>
public class IwaeAnomalyTests
{
    private const int D = 16;

    public class Example
    {
        [VectorType(D)] public float[] Features { get; set; } = [];
        public bool IsAnomaly { get; set; }
    }

    public class Wide
    {
        [VectorType(D + 4)] public float[] Features { get; set; } = [];
    }

    public class Scored : Example
    {
        public float Score { get; set; }
        public bool PredictedLabel { get; set; }
    }

    /// <summary>Normal rows near one of two bit patterns (values 0.05..0.1 and 0.9..0.95); anomalies uniform in [0, 1].</summary>
    private static List<Example> Rows(int n, int anomalies, int seed)
    {
        var noise = new Random(seed);
        return [.. Enumerable.Range(0, n + anomalies).Select(i => new Example
        {
            Features = [.. Enumerable.Range(0, D).Select(j => i < n
                ? ((j < D / 2) == (i % 2 == 0) ? 0.9f : 0.05f) + 0.05f * noise.NextSingle()
                : noise.NextSingle())],
            IsAnomaly = i >= n,
        })];
    }

    private static IwaeAnomalyOptions Small() => new() { HiddenLayers = [32], Latent = 2, Epochs = 10, EvaluationK = 20 };

    private static (MLContext Ml, IwaeAnomalyTransformer Model, IDataView Test) FitSmall()
    {
        var ml = new MLContext(seed: 1);
        var model = ml.AnomalyDetection.Trainers.Iwae(Small()).Fit(ml.Data.LoadFromEnumerable(Rows(300, 0, seed: 1)));
        return (ml, model, ml.Data.LoadFromEnumerable(Rows(100, 20, seed: 2)));
    }

    private static List<Scored> Score(MLContext ml, IDataView scored) => [.. ml.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false)];

    [Test]
    public void Fit_RanksObviousAnomaliesFirst_AndFlagsThem()
    {
        var (ml, model, test) = FitSmall();
        var rows = Score(ml, model.Transform(test));
        Assert.That(rows, Has.Count.EqualTo(120));
        double auroc = AnomalyMetrics.AreaUnderRoc([.. rows.Select(r => r.Score)], [.. rows.Select(r => r.IsAnomaly)]);
        Assert.That(auroc, Is.GreaterThan(0.9));
        Assert.That(rows.Where(r => r.IsAnomaly).Count(r => r.PredictedLabel), Is.GreaterThanOrEqualTo(18), "uniform noise scores far above the threshold");
        Assert.That(rows.Where(r => !r.IsAnomaly).Count(r => r.PredictedLabel), Is.LessThanOrEqualTo(20), "normal rows are flagged about as often as in training (5%)");
        Assert.That(rows.All(r => r.PredictedLabel == r.Score > model.Threshold), Is.True);
        Assert.That(rows.All(r => float.IsFinite(r.Score)), Is.True);

        // Another threshold, as ML.NET's ChangeModelThreshold gives one: the same scores, other labels.
        float median = rows.Select(r => r.Score).Order().ElementAt(60);
        var relabelled = Score(ml, model.WithThreshold(median).Transform(test));
        Assert.That(relabelled.Select(r => r.Score), Is.EqualTo(rows.Select(r => r.Score)));
        Assert.That(relabelled.Count(r => r.PredictedLabel), Is.EqualTo(59));
        Assert.That(Refusal<ArgumentException>(() => model.WithThreshold(float.NaN)), Does.StartWith("the threshold must be a finite number, got NaN"));
    }

    [Test]
    public void Threshold_IsTheQuantileOfTheTrainingScores()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Rows(200, 0, seed: 1));
        var model = ml.AnomalyDetection.Trainers.Iwae(new IwaeAnomalyOptions { HiddenLayers = [32], Latent = 2, Epochs = 3, EvaluationK = 10, ThresholdQuantile = 0.8 }).Fit(train);
        var rows = Score(ml, model.Transform(train));
        Assert.That(rows.Count(r => r.PredictedLabel), Is.EqualTo(40), "the 0.8 quantile of 200 distinct scores leaves 40 above it");
        Assert.That(rows.Count(r => r.Score == model.Threshold), Is.EqualTo(1));
        Assert.That(IwaeAnomalyEstimator.Quantile([5, 1, 4, 2, 3], 0.95), Is.EqualTo(5f));
        Assert.That(IwaeAnomalyEstimator.Quantile([5, 1, 4, 2, 3], 0.6), Is.EqualTo(3f));
        Assert.That(IwaeAnomalyEstimator.Quantile([5, 1, 4, 2, 3], 0.01), Is.EqualTo(1f));
    }

    [Test]
    public void SaveAndLoad_GiveTheSameScores_AndModelSaveSaysWhatToUse()
    {
        var (ml, model, test) = FitSmall();
        string path = Path.Combine(Path.GetTempPath(), $"iwae-ml-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            var again = IwaeAnomalyTransformer.Load(path);
            Assert.That(again.Threshold, Is.EqualTo(model.Threshold));
            Assert.That(again.FeatureColumnName, Is.EqualTo("Features"));
            Assert.That(again.EvaluationK, Is.EqualTo(model.EvaluationK));
            Assert.That(again.Model.Config, Is.EqualTo(model.Model.Config).Using<ModelConfig>((a, b) => a.ToJson() == b.ToJson()));
            var before = Score(ml, model.Transform(test)).Select(r => r.Score).ToArray();
            var after = Score(ml, again.Transform(test)).Select(r => r.Score).ToArray();
            Assert.That(after, Is.EqualTo(before));
            // The file is a model checkpoint as the iwae tool reads it.
            Assert.That(RunCheckpoint.LoadModel(path).Config.InputSize, Is.EqualTo(D));

            var e = Assert.Throws<NotSupportedException>(() => ml.Model.Save(model, test.Schema, Path.ChangeExtension(path, ".zip")))!;
            Assert.That(e.Message, Does.Contain("transformer.Save(path)").And.Contain("IwaeAnomalyTransformer.Load(path)"));

            RunCheckpoint.SaveModel(path, model.Model);
            var bad = Assert.Throws<CheckpointFormatException>(() => IwaeAnomalyTransformer.Load(path))!;
            Assert.That(bad.Message, Does.Contain(path).And.Contain("not a saved IwaeAnomalyTransformer"));
        }
        finally
        {
            File.Delete(path);
            File.Delete(Path.ChangeExtension(path, ".zip"));
        }
    }

    [Test]
    public void Schemas_AddScoreAndPredictedLabel_AsMLNetsAnomalyDetectorsDo()
    {
        var (ml, model, test) = FitSmall();
        var schema = model.GetOutputSchema(test.Schema);
        Assert.That(schema["Score"].Type, Is.EqualTo(NumberDataViewType.Single));
        Assert.That(schema["PredictedLabel"].Type, Is.EqualTo(BooleanDataViewType.Instance));
        Assert.That(schema["IsAnomaly"].Index, Is.EqualTo(test.Schema["IsAnomaly"].Index));
        // SchemaShape.Create is internal to ML.NET (its pipelines call it); reached here by reflection.
        var create = typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, [typeof(DataViewSchema)])!;
        var shape = ml.AnomalyDetection.Trainers.Iwae(Small()).GetOutputSchema((SchemaShape)create.Invoke(null, [test.Schema])!);
        Assert.That(shape.Select(c => c.Name), Is.SupersetOf(new[] { "Features", "IsAnomaly", "Score", "PredictedLabel" }));
        var transformed = model.Transform(test);
        Assert.That(transformed.GetRowCount(), Is.EqualTo(120));
        Assert.That(transformed.Schema.Select(c => c.Name), Is.EqualTo(schema.Select(c => c.Name)));
        Assert.That(model.IsRowToRowMapper, Is.False);
        Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(Small()).GetOutputSchema(new SchemaShape([]))),
            Does.StartWith("the data has no column 'Features'"));
    }

    public class Labelled
    {
        [VectorType(D)] public float[] Pixels { get; set; } = [];
        public float Label { get; set; }    // ML.NET's anomaly evaluator takes a Single label: 1 anomalous, 0 normal
    }

    /// <summary>In a pipeline after Concatenate, as ML.NET's anomaly trainers are used; ML.NET's own evaluator reads the columns.</summary>
    [Test]
    public void InAPipeline_AndMLNetsEvaluatorReadsTheScores()
    {
        var ml = new MLContext(seed: 1);
        IEnumerable<Labelled> Of(List<Example> rows) => rows.Select(r => new Labelled { Pixels = r.Features, Label = r.IsAnomaly ? 1 : 0 });
        var pipeline = ml.Transforms.Concatenate("Features", "Pixels").Append(ml.AnomalyDetection.Trainers.Iwae(Small()));
        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(Of(Rows(300, 0, seed: 1))));
        var scored = model.Transform(ml.Data.LoadFromEnumerable(Of(Rows(100, 20, seed: 2))));
        var metrics = ml.AnomalyDetection.Evaluate(scored);
        Assert.That(metrics.AreaUnderRocCurve, Is.GreaterThan(0.9));
        var scores = scored.GetColumn<float>("Score").ToArray();
        var labels = scored.GetColumn<float>("Label").Select(l => l > 0).ToArray();
        Assert.That(metrics.AreaUnderRocCurve, Is.EqualTo(AnomalyMetrics.AreaUnderRoc(scores, labels)).Within(1e-6));
    }

    [Test]
    public void Gaussian_TakesRealValues()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(200, 20, seed: 3);
        foreach (var r in rows) for (int j = 0; j < D; j++) r.Features[j] = 10 * r.Features[j] - 5;
        var options = Small();
        options.Observation = Observation.Gaussian;
        var model = ml.AnomalyDetection.Trainers.Iwae(options).Fit(ml.Data.LoadFromEnumerable(rows.Take(200)));
        var scored = Score(ml, model.Transform(ml.Data.LoadFromEnumerable(rows)));
        Assert.That(AnomalyMetrics.AreaUnderRoc([.. scored.Select(r => r.Score)], [.. scored.Select(r => r.IsAnomaly)]), Is.GreaterThan(0.9));
    }

    [Test]
    public void Gaussian_WithALearnedSigmaAndStandardisation_FitsTheModelItNames_AndScoresInTheFeaturesUnits()
    {
        var ml = new MLContext(seed: 1);
        var rows = Rows(200, 20, seed: 3);
        foreach (var r in rows) for (int j = 0; j < D; j++) r.Features[j] = 10 * r.Features[j] - 5;
        var options = Small();
        options.Observation = Observation.Gaussian;
        options.DecoderVariance = DecoderVariance.PerDimension;
        options.Standardize = true;
        var estimator = ml.AnomalyDetection.Trainers.Iwae(options);
        options.DecoderVariance = DecoderVariance.Fixed;       // a later change reaches no estimator
        var model = estimator.Fit(ml.Data.LoadFromEnumerable(rows.Take(200)));
        Assert.That(model.Model.Config.DecoderVariance, Is.EqualTo(DecoderVariance.PerDimension));
        Assert.That(model.Model.Config.Standardize, Is.True);
        Assert.That(model.Model.Standardization!.Std.Max(), Is.GreaterThan(1), "the statistics are the raw features'");
        var scored = Score(ml, model.Transform(ml.Data.LoadFromEnumerable(rows)));
        Assert.That(AnomalyMetrics.AreaUnderRoc([.. scored.Select(r => r.Score)], [.. scored.Select(r => r.IsAnomaly)]), Is.GreaterThan(0.9));
    }

    private static string Refusal<TException>(TestDelegate action) where TException : Exception => Assert.Throws<TException>(action)!.Message;

    [Test]
    public void BadInputs_AreRefusedInOneMessageNamingThem()
    {
        var ml = new MLContext(seed: 1);
        var (_, model, _) = FitSmall();
        var estimator = ml.AnomalyDetection.Trainers.Iwae(Small());

        Assert.That(Refusal<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(Rows(10, 0, 1)).Let(v => ml.Transforms.CopyColumns("Pixels", "Features").Fit(v).Transform(v))
                .Let(v => ml.Transforms.DropColumns("Features").Fit(v).Transform(v)))),
            Does.StartWith("the data has no column 'Features' (its columns: 'IsAnomaly', 'Pixels')"));
        Assert.That(Refusal<ArgumentException>(() => model.Transform(ml.Data.LoadFromEnumerable([new Wide { Features = new float[D + 4] }]))),
            Is.EqualTo("column 'Features' has vectors of 20 values, the model was trained on 16"));

        var nan = Rows(10, 0, 1);
        nan[3].Features[5] = float.NaN;
        Assert.That(Refusal<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(nan))),
            Does.StartWith("column 'Features', row 3, slot 5 is NaN"));
        Assert.That(Refusal<ArgumentException>(() => model.Transform(ml.Data.LoadFromEnumerable(nan))),
            Does.StartWith("column 'Features', row 3, slot 5 is NaN"));
        var outside = Rows(10, 0, 1);
        outside[7].Features[0] = 1.5f;
        Assert.That(Refusal<ArgumentException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(outside))),
            Does.StartWith("column 'Features', row 7, slot 0 is 1.5: the Bernoulli observation needs values in [0, 1]"));

        Assert.That(Refusal<InvalidOperationException>(() => estimator.Fit(ml.Data.LoadFromEnumerable(new List<Example>()))),
            Does.StartWith("the training data have no rows"));
        Assert.That(model.Transform(ml.Data.LoadFromEnumerable(new List<Example>())).GetRowCount(), Is.Zero, "scoring no rows is no error");

        var text = ml.Data.LoadFromEnumerable([new { Features = "1 2 3" }]);
        Assert.That(Refusal<ArgumentException>(() => estimator.Fit(text)), Does.StartWith("column 'Features' is String, not a vector of Single of known size"));

        foreach (double q in new[] { 0.0, 1.0, -0.5, 1.5, double.NaN })
            Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(thresholdQuantile: q)),
                Is.EqualTo($"IwaeAnomalyOptions.ThresholdQuantile must be between 0 and 1 (exclusive), got {q}"));
        Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(new IwaeAnomalyOptions { K = 0 })),
            Is.EqualTo("IwaeAnomalyOptions.K must be from 1 to 100000, got 0"));
        Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(new IwaeAnomalyOptions { BatchSize = 0 })),
            Does.StartWith("IwaeAnomalyOptions.BatchSize must be"));
        Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(new IwaeAnomalyOptions { EvaluationK = 0 })),
            Does.StartWith("IwaeAnomalyOptions.EvaluationK must be from 1"));
        Assert.That(Refusal<ArgumentException>(() => ml.AnomalyDetection.Trainers.Iwae(new IwaeAnomalyOptions { FeatureColumnName = "" })),
            Does.StartWith("IwaeAnomalyOptions.FeatureColumnName must name"));
    }

    [Test]
    public void Metrics_MatchScikitLearnsDefinitions()
    {
        // scikit-learn 1.2: roc_auc_score(y, s) = 8/9, average_precision_score(y, s) = 0.91666...
        float[] s = [0.1f, 0.4f, 0.35f, 0.8f, 0.2f, 0.9f];
        bool[] y = [false, false, true, true, false, true];
        Assert.That(AnomalyMetrics.AreaUnderRoc(s, y), Is.EqualTo(8.0 / 9).Within(1e-12));
        Assert.That(AnomalyMetrics.AveragePrecision(s, y), Is.EqualTo((1 + 1 + 0.75) / 3).Within(1e-12));
        // Ties count one half; all tied: AUC 0.5 and AP the anomaly fraction.
        Assert.That(AnomalyMetrics.AreaUnderRoc([1, 1, 1, 1], [true, false, false, true]), Is.EqualTo(0.5));
        Assert.That(AnomalyMetrics.AveragePrecision([1, 1, 1, 1], [true, false, false, false]), Is.EqualTo(0.25));
        Assert.That(AnomalyMetrics.AreaUnderRoc([3, 2, 1], [false, true, true]), Is.Zero);
        // Ties across the classes: scikit-learn gives AP 0.53333... and AUC 0.33333...
        Assert.That(AnomalyMetrics.AveragePrecision([0.5f, 0.5f, 0.2f, 0.9f, 0.9f], [false, true, true, false, true]), Is.EqualTo(0.5333333333333333).Within(1e-12));
        Assert.That(AnomalyMetrics.AreaUnderRoc([0.5f, 0.5f, 0.2f, 0.9f, 0.9f], [false, true, true, false, true]), Is.EqualTo(1.0 / 3).Within(1e-12));
        Assert.That(Refusal<ArgumentException>(() => AnomalyMetrics.AreaUnderRoc([1, 2], [true, true])), Does.Contain("both classes"));
    }
}

internal static class TestPipe
{
    public static TResult Let<T, TResult>(this T value, Func<T, TResult> f) => f(value);
}
