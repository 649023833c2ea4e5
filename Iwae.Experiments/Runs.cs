using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments.Sweeps;

namespace Iwae.Experiments;

/// <summary>
/// The library calls behind the `iwae` command: load data, train one model and evaluate it, or train a VAE
/// and an IWAE with identical settings and compare them. Files go through <see cref="RunFolder"/> and
/// <see cref="RunCheckpoint"/>; this class only orchestrates.
/// </summary>
public static partial class Runs
{
    /// <summary>Train and test sets: the training images as grey levels, the test set binarised once (Bernoulli models).</summary>
    /// <param name="Train">The training split, as read.</param>
    /// <param name="Test">The test split, as read.</param>
    /// <param name="TestX">The test split as evaluation reads it: binarised once with <paramref name="BinarizationSeed"/> for a Bernoulli model.</param>
    /// <param name="BinarizationSeed">The seed of that binarisation, or null when the values are used as they are.</param>
    public sealed record Data(Dataset Train, Dataset Test, Tensor<float> TestX, ulong? BinarizationSeed = null)
    {
        /// <summary><paramref name="split"/>'s examples as evaluation reads them (binarised as <see cref="TestX"/> is).</summary>
        public Tensor<float> Prepared(Dataset split) => BinarizationSeed is ulong seed ? Binarize.Fixed(split.Images, seed) : split.Images;

        /// <summary>Every example: the training split, then the test split.</summary>
        public Dataset All()
        {
            var t = Tensor<float>.Zeros(Train.Count + Test.Count, Train.PixelsPerImage);
            Train.Images.Span.CopyTo(t.Span);
            Test.Images.Span.CopyTo(t.Span[Train.Images.Span.Length..]);
            return new Dataset(t, Train.HasLabels && Test.HasLabels ? [.. Train.Labels, .. Test.Labels] : [], Train.Rows, Train.Cols, Train.Source);
        }

        /// <summary>Throws <see cref="ArgumentException"/> when a model of <paramref name="config"/> cannot read these data.</summary>
        public Data CheckFits(ModelConfig config)
        {
            try { config.CheckInput(TestX.Cols); }
            catch (ArgumentException e) { throw DataFormatException.At(Test.Source, e.Message); }    // name the data
            return this;
        }
    }

    /// <summary>
    /// Loads the data of <paramref name="settings"/> (<see cref="DataSource"/>; the embedded subset by default). For the
    /// Bernoulli observation model every value must lie in [0, 1] (grey levels are binarised: each minibatch anew while
    /// training, the test set once with a fixed seed); for the Gaussian one every |value| must be at most
    /// <see cref="MaxGaussianValue"/>.
    /// </summary>
    public static Data LoadData(RunSettings settings, Observation observation = Observation.Bernoulli)
    {
        // A checkpoint's own data, read again: the same data, or a clear refusal (never other data in silence).
        var trainedOn = settings.TrainedOn is { } r && r.Spec == settings.Data ? r : null;
        trainedOn?.CheckAvailable();
        var (train, test) = DataSource.Load(settings.Data, settings.TestFraction);
        trainedOn?.Check(train, test);
        if (observation == Observation.Bernoulli)
        {
            CheckProbabilities(train);
            CheckProbabilities(test);
        }
        else
        {
            CheckSquaresFit(train);
            CheckSquaresFit(test);
        }
        ulong? seed = observation == Observation.Bernoulli ? settings.TestBinarizationSeed : null;
        var testX = seed is ulong s ? Binarize.Fixed(test.Images, s) : test.Images;
        return new Data(train, test, testX, seed);
    }

    private static void CheckProbabilities(Dataset d)
    {
        var v = d.Images.Span;
        for (int i = 0; i < v.Length; i++)
            if (!(v[i] >= 0 && v[i] <= 1))
                throw DataFormatException.At(d.Source, $"{d.Origin.Locate(i / d.PixelsPerImage, i % d.PixelsPerImage)}: value {v[i]} is outside [0, 1], which the Bernoulli observation model needs; train with --observation gaussian");
    }

    /// <summary>
    /// The largest |value| the Gaussian observation model takes, sqrt(float.MaxValue) ~ 1.8e19: its log density squares
    /// x - mean in single precision, so a larger value makes every bound -infinity at the first step.
    /// </summary>
    public static readonly float MaxGaussianValue = MathF.Sqrt(float.MaxValue);

    private static void CheckSquaresFit(Dataset d)
    {
        var v = d.Images.Span;
        for (int i = 0; i < v.Length; i++)
            if (!(Math.Abs(v[i]) <= MaxGaussianValue))
                throw DataFormatException.At(d.Source, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{d.Origin.Locate(i / d.PixelsPerImage, i % d.PixelsPerImage)}: value {v[i]} is too large for the Gaussian observation model, whose squares must fit in single precision (|value| <= {MaxGaussianValue:G3}); rescale the data"));
    }

    /// <summary>Loads the data of <paramref name="settings"/> for a trained model, checking that it can read them.</summary>
    public static Data LoadData(RunSettings settings, ModelConfig model) => LoadData(settings, model.Observation).CheckFits(model);

    /// <summary>A model for <paramref name="config"/>, initialised from the seed, its decoder bias at the training data's mean.</summary>
    public static Iwae<float> CreateModel(ModelConfig config, Dataset train, ulong seed)
        => Iwae<float>.Create(config, new Rng(seed), train);

    /// <summary>
    /// `iwae train`: checks the options against the model, loads the data (a new model's input size follows them),
    /// creates the run folder once the inputs are known to be good and takes its lock (<see cref="SweepLock"/>: a
    /// second writer of the folder, a sweep's worker or another `train`, gets <see cref="IOException"/> naming the
    /// holder), then <see cref="TrainAndEvaluate"/>; with a run folder, results.json at the end (its presence marks
    /// the run as done). A run that fails before its first checkpoint takes away the folder it created. Resuming a run
    /// whose training is done evaluates it again. It runs on <paramref name="execution"/> (threads, cancellation, where
    /// <see cref="RunProgress"/> goes; null: <see cref="Execution.Serial"/>), which results.json records for information.
    /// </summary>
    public static ModelResult Train(ModelConfig config, TrainOptions options, RunSettings settings, Execution? execution = null, Action<string>? log = null,
        RunCheckpoint? resume = null)
        => Train(config, options, settings, execution, log, resume, held: null);

    /// <summary><see cref="Train(ModelConfig, TrainOptions, RunSettings, Execution?, Action{string}?, RunCheckpoint?)"/> for a caller that already holds the folder's lock (a sweep's worker).</summary>
    internal static ModelResult Train(ModelConfig config, TrainOptions options, RunSettings settings, Execution? execution, Action<string>? log,
        RunCheckpoint? resume, SweepLock? held)
    {
        var run = execution ?? Execution.Serial;
        settings.Validate(config, options);
        var data = LoadData(settings, config.Observation);
        if (resume is null) config = config with { InputSize = data.Train.PixelsPerImage };     // a new model reads what the data hold
        data.CheckFits(config);
        if (resume is null) settings.Folder?.CheckFresh(config.Model);
        string? created = null;
        var folder = settings.Folder?.Create(out created);
        try
        {
            // The lock is let go before the catch below looks at the folder, so a folder this call made leaves no lock file.
            using var own = held is null && folder is not null ? SweepLock.Acquire(folder.Path) : null;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation, own?.Lost ?? CancellationToken.None);
            var result = TrainAndEvaluate(config, options, settings, data, run.WithCancellation(stop.Token), log, resume).Result;
            folder?.WriteResults(Results([result], config, options, settings, data, run));
            return result;
        }
        catch
        {
            RunFolder.RemoveIfEmpty(created);
            throw;
        }
    }

    /// <summary>
    /// Trains <paramref name="config"/>'s model and evaluates it on the test set, on <paramref name="execution"/> (null:
    /// <see cref="Execution.Serial"/>). With an output folder, a checkpoint is written every
    /// <see cref="RunSettings.CheckpointEvery"/> epochs and at the end, with per-epoch and per-stage metrics; when the
    /// execution's cancellation fires while training, the current step finishes, a checkpoint is written and
    /// <see cref="OperationCanceledException"/> is thrown; when it fires in an evaluation (a stage's or the final one), the
    /// evaluation stops within a chunk and the checkpoint holds the trained weights. <paramref name="resume"/> continues a
    /// run from its checkpoint (weights, optimiser, RNG and position in the schedule), bit-identically to an uninterrupted
    /// run; a stage evaluation that was interrupted is made up first, and a run whose training is done is only evaluated.
    /// A <see cref="NonFiniteException"/> says which checkpoint, if any, holds the last good weights; a model that stops
    /// before its first checkpoint leaves no metrics files.
    /// </summary>
    public static (Iwae<float> Model, ModelResult Result) TrainAndEvaluate(ModelConfig config, TrainOptions options, RunSettings settings,
        Data data, Execution? execution = null, Action<string>? log = null, RunCheckpoint? resume = null)
    {
        var run = execution ?? Execution.Serial;
        string name = RunFolder.ModelName(config.Model);
        // A new model's decoder bias starts at the mean of the examples it trains on: never the validation split's.
        var model = resume is null ? CreateModel(config, ValidationSplit.Of(data.Train, options.ValidationFraction).Fit, options.Seed) : resume.Model();
        if (resume is not null && model.Config.ToJson() != config.ToJson())
            throw new CheckpointFormatException(resume.Path, $"holds a {model.Config.Describe()} model, not the requested {config.Describe()}");
        long perEpoch = (data.Train.Count - ValidationSplit.HeldOut(data.Train.Count, options.ValidationFraction) + options.BatchSize - 1) / options.BatchSize;
        var trainer = new Trainer(model, data.Train, options, RunProgressSink.Training(run, name, options.TotalEpochs, perEpoch));
        if (resume is not null)
        {
            resume.Restore(trainer);
            log?.Invoke($"{name}: resuming from {resume.Path} after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps");
        }
        var folder = settings.Folder;
        string? checkpoint = folder?.Checkpoint(name);
        string? best = trainer.ValidationImages > 0 ? folder?.BestCheckpoint(name) : null;
        // What the checkpoint file holds: the position it was written at (null: this run has written none).
        var trainedOn = checkpoint is null ? null : DataRecord.Of(settings.Data, data.Train, data.Test);
        (int Epochs, int Steps)? saved = resume is null ? null : (trainer.Position.EpochsDone, trainer.Position.StepInEpoch);
        void Save()
        {
            RunCheckpointSettings.Save(checkpoint!, model, trainer, settings, trainedOn);
            saved = (trainer.Position.EpochsDone, trainer.Position.StepInEpoch);
        }
        var earlier = resume is null || folder is null ? [] : EpochsBefore(folder, name, trainer.Position.EpochsDone);
        var metrics = folder?.WriteMetrics(name, append: resume is not null);
        var stages = folder?.WriteStages(name, append: resume is not null);
        var stageX = data.TestX.RowSlice(0, Math.Min(settings.StageEvalImages, data.TestX.Rows));
        double evalSeconds = 0;
        void StageEval(EpochMetrics m)
        {
            if (settings.StageEvalK < 1 || stageX.Rows == 0) return;
            var e = Stopwatch.StartNew();
            double nll = Evaluation.Nll(model, stageX, settings.StageEvalK, seed: 44,
                RunProgressSink.Evaluation(run, name, RunPhase.StageEval, stageX.Rows, m.Stage, m.Epoch, options.TotalEpochs));
            evalSeconds += e.Elapsed.TotalSeconds;
            stages?.Write(new StageMetrics(m.Stage, m.Epoch, m.TrainBound, nll, settings.StageEvalK, stageX.Rows, e.Elapsed.TotalSeconds));
            log?.Invoke($"{name} stage {m.Stage} done: test NLL (k={settings.StageEvalK}, {stageX.Rows} images) {nll:F2}");
        }
        var sw = Stopwatch.StartNew();
        IReadOnlyList<EpochMetrics> epochs;
        try
        {
            // A run stopped in the evaluation that ends a stage was saved at the stage's end: that point of the learning curve comes first.
            if (resume is not null && folder is not null && StageEndingAt(options, trainer.Position) is int stage && !HasStage(folder, name, stage))
                StageEval(earlier.LastOrDefault(m => m.Epoch == trainer.Position.EpochsDone)
                          ?? new EpochMetrics(trainer.Position.EpochsDone, stage, trainer.Optimizer.LearningRate, double.NaN, 0, trainer.Steps));
            epochs = trainer.Train(m =>
            {
                metrics?.Write(m);
                string oneThread = m.OneThreadSteps > 0 ? $", {m.OneThreadSteps} steps on 1 thread" : "";
                string validation = m.ValidationBound is double vb ? $" validation bound {vb:F2}{(trainer.Validation.BestEpoch == m.Epoch ? " (best)" : "")}" : "";
                log?.Invoke($"{name} stage {m.Stage} epoch {m.Epoch}/{options.TotalEpochs} lr {m.LearningRate:G3} train bound {m.TrainBound:F2}{validation} ({m.Seconds:F1}s{oneThread})");
                // The best weights go down before the checkpoint that records their epoch: a checkpoint never names a best epoch the file lacks.
                if (best is not null && trainer.Validation.BestEpoch == m.Epoch) RunCheckpointSettings.SaveBest(best, model, trainer, settings, trainedOn);
                if (checkpoint is not null && m.Epoch % settings.CheckpointEvery == 0) Save();
                if (trainer.StoppedEarly)
                    log?.Invoke($"{name}: stopped early after epoch {m.Epoch}: no better validation bound for {options.Patience} epochs (best {trainer.Validation.BestBound:F2} at epoch {trainer.Validation.BestEpoch})");
            }, onStageEnd: StageEval);
            // Written unless the last epoch's checkpoint already holds this position (a resumed run that was done): an
            // evaluation interrupted and resumed leaves the training checkpoint as it was, byte for byte.
            if (checkpoint is not null && saved != (trainer.Position.EpochsDone, trainer.Position.StepInEpoch)) Save();
        }
        catch (OperationCanceledException) when (checkpoint is not null)
        {
            if (saved != (trainer.Position.EpochsDone, trainer.Position.StepInEpoch)) Save();
            log?.Invoke($"{name}: interrupted after {trainer.Position.EpochsDone} epochs and {trainer.Position.StepInEpoch} steps; checkpoint {checkpoint}");
            throw;
        }
        catch (NonFiniteException e)
        {
            throw new NonFiniteException($"{e.Message}; {CheckpointState(name, checkpoint ?? resume?.Path, saved)}", e);
        }
        finally
        {
            if (saved is null) { metrics?.Discard(); stages?.Discard(); }
            else { metrics?.Dispose(); stages?.Dispose(); }
        }
        double trainSeconds = earlier.Sum(m => m.Seconds) + sw.Elapsed.TotalSeconds - evalSeconds;
        var last = epochs.Count > 0 ? epochs[^1] : earlier.LastOrDefault();
        // With a validation split the test figures are of the best epoch's weights (the checkpoint keeps the last, to resume from).
        bool usedBest = trainer.UseBestWeights();
        if (usedBest) log?.Invoke($"{name}: evaluating the best epoch's weights (epoch {trainer.Validation.BestEpoch}, validation bound {trainer.Validation.BestBound:F2})");
        ModelResult evaluated;
        try
        {
            evaluated = Evaluate(model, data.TestX, settings, run, log);
        }
        catch (OperationCanceledException) when (checkpoint is not null)
        {
            log?.Invoke($"{name}: interrupted in the final evaluation; the checkpoint {checkpoint} holds the trained model, and `iwae train --resume` evaluates it");
            throw;
        }
        var result = evaluated with
        {
            TrainSeconds = trainSeconds,
            Epochs = trainer.Position.EpochsDone,
            FinalTrainBound = last?.TrainBound ?? double.NaN,
            Checkpoint = checkpoint,
            Estimator = options.Estimator.ToString().ToLowerInvariant(),
            Validation = trainer.ValidationImages == 0 ? null : new ValidationResult
            {
                Images = trainer.ValidationImages,
                K = options.ValidationKFor(model.Config),
                BestEpoch = trainer.Validation.BestEpoch,
                BestBound = trainer.Validation.BestBound,
                Epochs = trainer.Position.EpochsDone,
                StoppedEarly = trainer.StoppedEarly,
                Patience = options.Patience,
                EvaluatedWeights = usedBest ? "best" : "last",
                Checkpoint = best is not null && File.Exists(best) ? best : null,
            },
        };
        return (model, result);
    }

    /// <summary>The epochs of &lt;model&gt;-metrics.jsonl up to <paramref name="epochsDone"/>, the last line of each; none when the file is unreadable.</summary>
    private static IReadOnlyList<EpochMetrics> EpochsBefore(RunFolder folder, string model, int epochsDone)
    {
        try
        {
            return folder.ReadMetrics(model).Where(m => m.Epoch <= epochsDone).GroupBy(m => m.Epoch).Select(g => g.Last()).OrderBy(m => m.Epoch).ToArray();
        }
        catch (InvalidDataException)
        {
            return [];      // the figures are for the record; a damaged metrics file does not stop a run from continuing
        }
    }

    /// <summary>Whether &lt;model&gt;-stages.jsonl has the point of <paramref name="stage"/> (an unreadable file counts as having it: nothing is added to it).</summary>
    private static bool HasStage(RunFolder folder, string model, int stage)
    {
        try { return folder.ReadStages(model).Any(s => s.Stage == stage); }
        catch (InvalidDataException) { return true; }
    }

    /// <summary>The stage whose last epoch <paramref name="p"/> has just finished, or null (mid-epoch, or mid-stage).</summary>
    private static int? StageEndingAt(TrainOptions options, TrainerPosition p)
    {
        if (p.StepInEpoch != 0 || p.EpochsDone == 0) return null;
        int end = 0;
        foreach (var (stage, epochs, _) in options.Schedule())
            if ((end += epochs) == p.EpochsDone) return stage;
        return null;
    }

    /// <summary>"no iwae checkpoint was written", or which checkpoint holds the last good weights.</summary>
    private static string CheckpointState(string name, string? path, (int Epochs, int Steps)? saved)
    {
        if (path is null || saved is not var (epochs, steps)) return $"no {name} checkpoint was written";
        string when = $"after {epochs} epoch{(epochs == 1 ? "" : "s")}" + (steps > 0 ? $" and {steps} step{(steps == 1 ? "" : "s")}" : "");
        return $"the last checkpoint, {path} ({when}), is unchanged";
    }

    /// <summary>
    /// Test NLL at <see cref="RunSettings.EvalK"/>, bounds at k = 1 and the model's k, active units; on
    /// <paramref name="execution"/> (null: <see cref="Execution.Serial"/>), whose cancellation stops it within a chunk
    /// (<see cref="OperationCanceledException"/>).
    /// </summary>
    public static ModelResult Evaluate(Iwae<float> model, Tensor<float> testX, RunSettings settings, Execution? execution = null, Action<string>? log = null)
    {
        var run = execution ?? Execution.Serial;
        string name = RunFolder.ModelName(model.Config.Model);
        var sw = Stopwatch.StartNew();
        log?.Invoke($"{name}: evaluating log p(x) at k={settings.EvalK} on {testX.Rows} test images");
        double nll = Evaluation.Nll(model, testX, settings.EvalK, execution: RunProgressSink.Evaluation(run, name, RunPhase.Eval, testX.Rows));
        var quiet = run.WithProgress(null);
        double b1 = Evaluation.Bound(model, testX, 1, execution: quiet);
        double bk = Evaluation.Bound(model, testX, model.K, execution: quiet);
        var layers = Evaluation.ActiveUnitsPerLayer(model, testX, execution: quiet);
        var au = layers[0];
        return new ModelResult
        {
            Model = name, K = model.K, TestNll = nll, EvalK = settings.EvalK, TestBoundK1 = b1, TestBoundK = bk, ActiveUnits = au.Count,
            ActiveUnitsPerLayer = layers.Select(l => l.Count).ToArray(),
            UnitVariances = au.Variances, EvalSeconds = sw.Elapsed.TotalSeconds, TrainSeconds = 0, Epochs = 0, FinalTrainBound = double.NaN,
        };
    }

    /// <summary>
    /// `iwae eval`: the checkpoint's model evaluated on the test set of <paramref name="settings"/> (see
    /// <see cref="Evaluate(Iwae{float}, Tensor{float}, RunSettings, Execution?, Action{string}?)"/>); the result names the checkpoint.
    /// </summary>
    public static ModelResult Evaluate(RunCheckpoint checkpoint, RunSettings settings, Execution? execution = null, Action<string>? log = null)
    {
        settings.Validate();
        var model = checkpoint.Model();
        return Evaluate(model, LoadData(settings, model.Config).TestX, settings, execution, log) with { Checkpoint = checkpoint.Path };
    }

    /// <summary>
    /// The main job: a VAE and an IWAE with the same architecture, k, seed and schedule, trained and evaluated
    /// in turn; results.json and the checkpoints go to <see cref="RunSettings.OutDir"/>. The options' estimator
    /// trains the IWAE; the VAE keeps the plain ELBO gradient, the baseline. Both run on <paramref name="execution"/>, one after
    /// the other.
    /// </summary>
    public static RunResults Compare(ModelConfig config, TrainOptions options, RunSettings settings, Execution? execution = null, Action<string>? log = null)
    {
        var run = execution ?? Execution.Serial;
        settings.Validate(config with { Model = ModelKind.Iwae }, options);
        var data = LoadData(settings, config.Observation);
        config = config with { InputSize = data.Train.PixelsPerImage };
        settings.Folder?.CheckFresh(ModelKind.Vae, ModelKind.Iwae);
        string? created = null;
        var folder = settings.Folder?.Create(out created);
        try
        {
            using var own = folder is null ? null : SweepLock.Acquire(folder.Path);     // one writer per run folder, as in Train
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(run.Cancellation, own?.Lost ?? CancellationToken.None);
            var stoppable = run.WithCancellation(stop.Token);
            var (_, vae) = TrainAndEvaluate(config with { Model = ModelKind.Vae }, options with { Estimator = GradientEstimator.Iwae }, settings, data, stoppable, log);
            var (_, iwae) = TrainAndEvaluate(config with { Model = ModelKind.Iwae }, options, settings, data, stoppable, log);
            var results = Results([vae, iwae], config with { Model = ModelKind.Iwae }, options, settings, data, run);
            folder?.WriteResults(results);
            return results;
        }
        catch
        {
            RunFolder.RemoveIfEmpty(created);
            throw;
        }
    }

    /// <summary>results.json of <paramref name="models"/>, trained with <paramref name="options"/> on <paramref name="data"/>, on <paramref name="execution"/>.</summary>
    private static RunResults Results(ModelResult[] models, ModelConfig config, TrainOptions options, RunSettings settings, Data data, Execution execution) => new()
    {
        Models = models,
        Config = config,
        Train = options,
        Schedule = ScheduleRecord.Of(options),
        EvalK = settings.EvalK,
        Data = DataSource.Resolve(settings.Data) switch { (DataKind.Embedded, _) => Mnist.SubsetFolder, var (_, location) => location },
        TestFraction = settings.TestFraction,
        TrainImages = data.Train.Count - ValidationSplit.HeldOut(data.Train.Count, options.ValidationFraction),
        TestImages = data.Test.Count,
        Kernels = Autodiff.Kernels.Simd.Best.ToString(),
        Execution = new ExecutionRecord(execution.Threads, execution.Policy),
        Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
    };
}
