using System.Globalization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Iwae.ML;

/// <summary>
/// A fitted <see cref="IwaeAnomalyEstimator"/>: <see cref="Transform"/> adds <c>Score</c> (float, an estimate of -log p(x)
/// from <see cref="EvaluationK"/> importance samples: higher is more anomalous) and <c>PredictedLabel</c> (bool,
/// Score &gt; <see cref="Threshold"/>) to every row. Scoring is eager: Transform reads the feature column once and
/// scores all rows in groups (each group's sampling noise is seeded by its position, so the same rows in the same
/// order give the same scores). It is not a row-to-row mapper, so a <c>PredictionEngine</c> does not take it.
/// <para>
/// ML.NET's model files admit only transformers registered with its internal loader, so <c>mlContext.Model.Save</c>
/// refuses this one; <see cref="Save"/> and <see cref="Load"/> write and read it as an Iwae.NET checkpoint (a safetensors
/// file: the weights, the model config, the feature column, threshold and scoring settings).
/// </para>
/// </summary>
public sealed class IwaeAnomalyTransformer : ITransformer
{
    /// <summary>The name of the score column, as ML.NET's anomaly detectors name it.</summary>
    public const string ScoreColumnName = "Score";

    /// <summary>The name of the predicted label column.</summary>
    public const string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>The seed of the scoring noise.</summary>
    internal const ulong DefaultScoringSeed = 42;

    /// <summary>The checkpoint metadata key that holds this transformer's settings.</summary>
    internal const string MetadataKey = "iwae.ml";

    internal IwaeAnomalyTransformer(Iwae<float> model, string featureColumnName, float threshold, int evaluationK, ulong scoringSeed, int threads)
    {
        Model = model;
        FeatureColumnName = featureColumnName;
        Threshold = threshold;
        EvaluationK = evaluationK;
        ScoringSeed = scoringSeed;
        Threads = threads;
    }

    /// <summary>The trained model (its config says D, the widths, k and the observation).</summary>
    public Iwae<float> Model { get; }

    /// <summary>The input column, a vector of D floats.</summary>
    public string FeatureColumnName { get; }

    /// <summary>Rows whose score is above this are predicted anomalous.</summary>
    public float Threshold { get; }

    /// <summary>Importance samples per row when scoring.</summary>
    public int EvaluationK { get; }

    /// <summary>The seed of the scoring noise.</summary>
    public ulong ScoringSeed { get; }

    /// <summary>Kernel threads when scoring (the scores are the same on any count).</summary>
    public int Threads { get; }

    /// <summary>This transformer with another threshold (after ML.NET's <c>ChangeModelThreshold</c>).</summary>
    public IwaeAnomalyTransformer WithThreshold(float threshold)
    {
        if (!float.IsFinite(threshold)) throw new ArgumentException($"the threshold must be a finite number, got {threshold}", nameof(threshold));
        return new(Model, FeatureColumnName, threshold, EvaluationK, ScoringSeed, Threads);
    }

    /// <summary>False: rows are scored together, in <see cref="Transform"/>.</summary>
    public bool IsRowToRowMapper => false;

    /// <summary>Not supported: see <see cref="IsRowToRowMapper"/>.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
        => throw new NotSupportedException("IwaeAnomalyTransformer scores rows together and is not a row-to-row mapper; call Transform on an IDataView");

    /// <summary>The input's columns, then <c>Score</c> (Single) and <c>PredictedLabel</c> (Boolean); these hide input columns of the same names.</summary>
    /// <exception cref="ArgumentException">The feature column is missing, not a float vector of known size, or of another width than the model's.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        var (_, width) = FeatureColumn.Find(inputSchema, FeatureColumnName);
        if (width != Model.Config.InputSize)
            throw new ArgumentException($"column '{FeatureColumnName}' has vectors of {width} values, the model was trained on {Model.Config.InputSize}");
        return OutputSchema(inputSchema);
    }

    private static DataViewSchema OutputSchema(DataViewSchema inputSchema)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(ScoreColumnName, NumberDataViewType.Single);
        builder.AddColumn(PredictedLabelColumnName, BooleanDataViewType.Instance);
        return builder.ToSchema();
    }

    /// <summary>
    /// Scores every row of <paramref name="input"/> now and returns a view of its rows with <c>Score</c> and
    /// <c>PredictedLabel</c> added.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="GetOutputSchema"/>, or a NaN or infinite value (for the Bernoulli
    /// observation: one outside [0, 1]), named by column, row and slot.</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var schema = GetOutputSchema(input.Schema);
        var x = FeatureColumn.Read(input, FeatureColumnName, Model.Config.Observation, Model.Config.InputSize);
        float[] scores;
        using (var execution = new Execution(Threads)) scores = Scores(Model, x, EvaluationK, ScoringSeed, execution);
        return new ScoredView(input, schema, scores, Threshold);
    }

    /// <summary>-L_k of each row of <paramref name="x"/> [N, D], as floats.</summary>
    internal static float[] Scores(Iwae<float> model, Tensor<float> x, int k, ulong seed, Execution execution)
    {
        if (x.Rows == 0) return [];
        var logPx = Evaluation.LogLikelihoods(model, x, k, seed, execution: execution);
        return [.. logPx.Select(l => (float)-l)];
    }

    /// <summary>Not supported: ML.NET's model format loads only its own registered transformers. Use <see cref="Save"/>.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
        => throw new NotSupportedException("mlContext.Model.Save cannot store an IwaeAnomalyTransformer (ML.NET loads only transformers registered with its internal catalog); " +
            "save it with transformer.Save(path) and read it back with IwaeAnomalyTransformer.Load(path)");

    /// <summary>
    /// Writes the model and this transformer's settings to <paramref name="path"/> (a safetensors checkpoint, written
    /// atomically; it loads as a plain model too, <see cref="RunCheckpoint.LoadModel"/>).
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var settings = new Settings(FeatureColumnName, Threshold.ToString("R", CultureInfo.InvariantCulture), EvaluationK, ScoringSeed, Threads);
        var meta = new Dictionary<string, string>
        {
            ["format"] = RunCheckpoint.Format,
            ["config"] = Model.Config.ToJson(),
            [MetadataKey] = JsonSerializer.Serialize(settings),
        };
        Checkpoint.Save(path, Model.Parameters, meta);
    }

    /// <summary>Reads a transformer written by <see cref="Save"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is missing, not a checkpoint, or holds no anomaly detector's settings (the message names the file).</exception>
    public static IwaeAnomalyTransformer Load(string path)
    {
        var checkpoint = RunCheckpoint.Read(path);
        if (!checkpoint.Metadata.TryGetValue(MetadataKey, out var json))
            throw checkpoint.Invalid($"no '{MetadataKey}' entry in the metadata: a model checkpoint, not a saved IwaeAnomalyTransformer");
        Settings s;
        try
        {
            s = JsonSerializer.Deserialize<Settings>(json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw checkpoint.Invalid($"the '{MetadataKey}' entry is not valid: {e.Message}");
        }
        if (string.IsNullOrEmpty(s.FeatureColumnName) || !float.TryParse(s.Threshold, NumberStyles.Float, CultureInfo.InvariantCulture, out float threshold)
            || !float.IsFinite(threshold) || s.EvaluationK < 1 || s.Threads < 1)
            throw checkpoint.Invalid($"the '{MetadataKey}' entry has an empty column name, a threshold that is not a finite number, or a count below 1: {json}");
        return new IwaeAnomalyTransformer(checkpoint.Model(), s.FeatureColumnName, threshold, s.EvaluationK, s.ScoringSeed, s.Threads);
    }

    private sealed record Settings(string FeatureColumnName, string Threshold, int EvaluationK, ulong ScoringSeed, int Threads);

    /// <summary>The input's rows with two columns more, read from arrays filled by <see cref="Transform"/>.</summary>
    private sealed class ScoredView(IDataView input, DataViewSchema schema, float[] scores, float threshold) : IDataView
    {
        public bool CanShuffle => false;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => _scores.Length;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
            int inputCount = input.Schema.Count;
            var inputColumns = input.Schema.Where(c => needed.Contains(c.Index)).ToArray();
            return new Cursor(this, input.GetRowCursor(inputColumns), needed, inputCount);
        }

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
            => [GetRowCursor(columnsNeeded, rand)];

        private sealed class Cursor(ScoredView view, DataViewRowCursor inner, HashSet<int> needed, int inputCount) : DataViewRowCursor
        {
            private long _position = -1;

            public override DataViewSchema Schema => view.Schema;

            public override long Position => _position;

            public override long Batch => 0;

            public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

            public override bool IsColumnActive(DataViewSchema.Column column) => needed.Contains(column.Index);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                if (!IsColumnActive(column)) throw new InvalidOperationException($"column '{column.Name}' was not asked for when this cursor was made");
                if (column.Index < inputCount) return inner.GetGetter<TValue>(inner.Schema[column.Index]);
                if (column.Index == inputCount)
                {
                    ValueGetter<float> score = (ref float value) => value = view._scores[Row()];
                    return score as ValueGetter<TValue> ?? throw new InvalidOperationException($"column '{ScoreColumnName}' is Single, not {typeof(TValue).Name}");
                }
                ValueGetter<bool> label = (ref bool value) => value = view._scores[Row()] > view._threshold;
                return label as ValueGetter<TValue> ?? throw new InvalidOperationException($"column '{PredictedLabelColumnName}' is Boolean, not {typeof(TValue).Name}");
            }

            private int Row() => _position >= 0 && _position < view._scores.Length
                ? (int)_position
                : throw new InvalidOperationException("the cursor is not on a row");

            public override bool MoveNext()
            {
                if (!inner.MoveNext()) return false;
                _position++;
                if (_position >= view._scores.Length) throw new InvalidOperationException("the input view gave more rows than it had when it was scored");
                return true;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }

        private readonly float[] _scores = scores;
        private readonly float _threshold = threshold;
    }
}
