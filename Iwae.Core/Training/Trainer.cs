using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Core.Models;

namespace Iwae.Core.Training;

/// <summary>One epoch's figures, written as a JSON line by the CLI.</summary>
/// <param name="Epoch">1-based epoch over the whole schedule.</param>
/// <param name="Stage">Schedule stage.</param>
/// <param name="LearningRate">Adam's step size during the epoch.</param>
/// <param name="TrainBound">Mean over the epoch's inputs of the bound L_k on its minibatch (nats; higher is better).</param>
/// <param name="Seconds">Wall time of the epoch.</param>
/// <param name="Steps">Optimiser steps taken so far.</param>
public sealed record EpochMetrics(int Epoch, int Stage, double LearningRate, double TrainBound, double Seconds, long Steps)
{
    /// <summary>Steps of the epoch that the <see cref="ThreadGovernor"/> ran on one thread instead of all of the trainer's <see cref="Trainer.Execution"/>.</summary>
    public long OneThreadSteps { get; init; }

    /// <summary>
    /// The validation bound L_k after the epoch (nats, averaged over the validation split; <see cref="TrainOptions.ValidationFraction"/>),
    /// or null without a validation split (and then absent from the JSON line).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? ValidationBound { get; init; }
}

/// <summary>
/// Where early stopping stands: the best validation bound so far, its epoch and the epochs since it; saved in checkpoints so
/// that a resumed run stops where an uninterrupted one does.
/// </summary>
/// <param name="BestBound">The highest validation bound so far (-infinity before the first).</param>
/// <param name="BestEpoch">Its epoch (1-based), 0 before the first.</param>
/// <param name="EpochsSinceBest">Epochs since that one whose bound was not higher.</param>
public readonly record struct ValidationState(double BestBound, int BestEpoch, int EpochsSinceBest)
{
    /// <summary>Before any epoch.</summary>
    public static readonly ValidationState Start = new(double.NegativeInfinity, 0, 0);
}

/// <summary>A point in the schedule, between two steps.</summary>
/// <param name="EpochsDone">Whole epochs completed.</param>
/// <param name="StepInEpoch">Steps done in the current epoch.</param>
/// <param name="EpochBoundSum">Sum over those steps of bound * batch size (the epoch's running metric).</param>
/// <param name="EpochStartRng">RNG state when the current epoch began (it determines the epoch's order).</param>
public readonly record struct TrainerPosition(int EpochsDone, int StepInEpoch, double EpochBoundSum, ulong[] EpochStartRng);

/// <summary>Where an epoch is, after each optimiser step: what a trainer reports to its execution's progress sink (<see cref="Execution.Report{TReport}"/>).</summary>
/// <param name="Epoch">1-based epoch over the whole schedule.</param>
/// <param name="Stage">Schedule stage.</param>
/// <param name="LearningRate">Adam's step size.</param>
/// <param name="Step">Steps taken in this epoch (1-based).</param>
/// <param name="StepsPerEpoch">Minibatches per epoch.</param>
/// <param name="RunningBound">Mean over the epoch's inputs so far of the minibatch bound L_k (nats).</param>
public readonly record struct StepProgress(int Epoch, int Stage, double LearningRate, int Step, int StepsPerEpoch, double RunningBound);

/// <summary>
/// Thrown when a loss or gradient stops being finite; names the step and what went wrong (and, from
/// Iwae.Experiments' Runs.TrainAndEvaluate, which checkpoint, if any, holds the last good weights).
/// </summary>
public sealed class NonFiniteException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Trains an <see cref="Iwae{T}"/> (or <see cref="Vae{T}"/>) with Adam, on the gradient of the options' estimator, on minibatches dynamically binarised
/// (x ~ Bernoulli(pixel)) for the Bernoulli decoder, reshuffled every epoch. Deterministic for a seed and
/// thread count: the one <see cref="Rng"/> drives shuffling, binarisation and the sampling noise in a fixed order.
/// How it runs is its <see cref="Execution"/>'s business: the kernel threads and their thread policy, cancellation between
/// steps, and a <see cref="StepProgress"/> report after every step. Trainers on executions of their own run side by side
/// in one process without sharing threads.
/// </summary>
public sealed class Trainer
{
    private readonly Iwae<float> _model;
    private readonly Estimator<float> _estimator;
    private readonly Dataset _train;
    private readonly Tape<float> _tape;
    private readonly int[] _order;
    private readonly Tensor<float>? _validation;
    private readonly Parameter<float>[] _best;
    private ThreadGovernor? _governor;

    /// <summary>The options in force.</summary>
    public TrainOptions Options { get; }

    /// <summary>The optimiser (its state goes into checkpoints).</summary>
    public Adam<float> Optimizer { get; }

    /// <summary>Drives data order, binarisation and noise (its state goes into checkpoints).</summary>
    public Rng Rng { get; }

    /// <summary>
    /// How this trainer runs: its steps' kernel threads (some steps on one thread under <see cref="ThreadPolicy.Adaptive"/>),
    /// the cancellation checked between steps, and the progress sink that receives a <see cref="StepProgress"/> after every
    /// step, with <see cref="Position"/> already moved on (a sink must be cheap: hundreds of steps a second).
    /// </summary>
    public Execution Execution { get; }

    /// <summary>Steps taken.</summary>
    public long Steps => Optimizer.StepCount;

    /// <summary>Examples held out for validation (<see cref="TrainOptions.ValidationFraction"/>); 0 without a split.</summary>
    public int ValidationImages => _validation is { } v ? v.Rows : 0;

    /// <summary>Examples trained on: the training set less the validation split.</summary>
    public int TrainImages => _order.Length;

    /// <summary>
    /// The best epoch's weights, named "best.&lt;parameter&gt;" in the model's order (empty without a validation split;
    /// zeros before the first epoch); a checkpoint stores them so that a resumed run keeps them.
    /// </summary>
    public IReadOnlyList<Parameter<float>> BestParameters => _best;

    /// <summary>Early stopping's state (<see cref="ValidationState.Start"/> without a split); settable to restore a checkpoint.</summary>
    public ValidationState Validation
    {
        get => _state;
        set
        {
            if (_validation is null && value != ValidationState.Start) throw new ArgumentException("this trainer has no validation split to restore a validation state into");
            if (value.BestEpoch < 0 || value.EpochsSinceBest < 0 || (value.BestEpoch > 0) != double.IsFinite(value.BestBound))
                throw new ArgumentException($"invalid validation state {value}");
            _state = value;
        }
    }

    private ValidationState _state = ValidationState.Start;

    /// <summary>Whether early stopping has ended the training: <see cref="TrainOptions.Patience"/> epochs in a row without a better validation bound.</summary>
    public bool StoppedEarly => Options.Patience is int p && _validation is not null && _state.EpochsSinceBest >= p;

    /// <summary>Picks the thread count of each step (null: always <see cref="Execution"/>'s); settable for tests.</summary>
    internal ThreadGovernor? Governor { get => _governor; set => _governor = value; }

    /// <summary>
    /// A trainer for <paramref name="model"/> on <paramref name="train"/>, run on <paramref name="execution"/> (null:
    /// <see cref="Execution.Serial"/>, the caller's thread, never cancelled, reporting nothing).
    /// </summary>
    public Trainer(Iwae<float> model, Dataset train, TrainOptions options, Execution? execution = null)
    {
        _estimator = options.EstimatorFor(model.Config);
        Options = options;
        Execution = execution ?? Execution.Serial;
        model.Config.CheckInput(train.PixelsPerImage);
        if (train.Count == 0) throw new ArgumentException("the training set is empty");
        _model = model;
        var (fit, validation) = ValidationSplit.Of(train, options.ValidationFraction);
        _train = train = fit;
        if (validation is not null)
        {
            _validation = model.Config.Observation == Observation.Bernoulli ? Binarize.Fixed(validation.Images, ValidationSplit.BinarizationSeed) : validation.Images;
            _best = model.Parameters.Select(p => new Parameter<float>("best." + p.Name, p.Rows, p.Cols)).ToArray();
        }
        else _best = [];
        Optimizer = new Adam<float>(model.Parameters, options.LearningRate, options.Beta1, options.Beta2, options.AdamEpsilon);
        Rng = new Rng(options.Seed ^ 0x7261696E);   // a stream apart from the weight initialisation's
        _order = Enumerable.Range(0, train.Count).ToArray();
        _tape = new Tape<float>(Execution);
        if (Execution.Policy == ThreadPolicy.Adaptive && Execution.Threads > 1) _governor = new ThreadGovernor(Execution.Threads);
    }

    /// <summary>
    /// Runs the schedule from where this trainer stands (the start, or a restored <see cref="Position"/>),
    /// reporting each epoch to <paramref name="onEpoch"/> and the end of each stage (with its last epoch's figures)
    /// to <paramref name="onStageEnd"/>. The execution's cancellation is honoured between steps: the trainer is then left
    /// at a step boundary whose <see cref="Position"/> a checkpoint can save, and <see cref="OperationCanceledException"/>
    /// is thrown. With a validation split each epoch is followed by <see cref="ValidationBound"/> (not cancellable, so an
    /// epoch and its validation are saved together), the best epoch's weights are kept in <see cref="BestParameters"/>, and
    /// training ends early once <see cref="StoppedEarly"/> (a stage cut short reports no stage end).
    /// </summary>
    public IReadOnlyList<EpochMetrics> Train(Action<EpochMetrics>? onEpoch = null, Action<EpochMetrics>? onStageEnd = null)
    {
        var all = new List<EpochMetrics>();
        int epoch = 0;
        foreach (var (stage, epochs, lr) in Options.Schedule())
        {
            Optimizer.LearningRate = (float)lr;
            bool ranAny = false;
            for (int e = 0; e < epochs; e++)
            {
                if (++epoch <= _position.EpochsDone) continue;
                if (StoppedEarly) return all;
                var m = RunEpoch(epoch, stage);
                if (_validation is not null) m = Validated(m);
                all.Add(m);
                ranAny = true;
                onEpoch?.Invoke(m);
                if (StoppedEarly && e < epochs - 1) return all;
            }
            if (ranAny) onStageEnd?.Invoke(all[^1]);
        }
        return all;
    }

    /// <summary>
    /// The mean bound L_k over the validation split at k = <see cref="TrainOptions.ValidationKFor"/>, with the same noise
    /// (<see cref="ValidationSplit.NoiseSeed"/>) every time and the same bits on any thread count; run on the trainer's
    /// threads, not cancellable, reporting no progress. NaN without a split.
    /// </summary>
    public double ValidationBound()
        => _validation is null ? double.NaN
           : Evaluation.Bound(_model, _validation.Value, Options.ValidationKFor(_model.Config), ValidationSplit.NoiseSeed,
                              Execution.WithCancellation(CancellationToken.None).WithProgress(null));

    /// <summary><paramref name="m"/> with its validation bound, after early stopping's state has taken it in (a strictly higher bound is a new best).</summary>
    private EpochMetrics Validated(EpochMetrics m)
    {
        double bound = ValidationBound();
        if (bound > _state.BestBound)
        {
            _state = new ValidationState(bound, m.Epoch, 0);
            for (int i = 0; i < _best.Length; i++) _model.Parameters[i].Value.Span.CopyTo(_best[i].Value.Span);
        }
        else _state = _state with { EpochsSinceBest = _state.EpochsSinceBest + 1 };
        return m with { ValidationBound = bound };
    }

    /// <summary>
    /// Puts the best epoch's weights (<see cref="BestParameters"/>) into the model, for the final evaluation; false, changing
    /// nothing, without a validation split or before the first validated epoch.
    /// </summary>
    public bool UseBestWeights()
    {
        if (_state.BestEpoch == 0) return false;
        for (int i = 0; i < _best.Length; i++) _best[i].Value.Span.CopyTo(_model.Parameters[i].Value.Span);
        return true;
    }

    /// <summary>
    /// One pass over the shuffled training set, or the rest of it when the position is mid-epoch. The order
    /// depends on the RNG state at the epoch's start alone, so a run resumed from a checkpoint (which restores
    /// that state and the current one) visits the data exactly as the uninterrupted run does. The execution's
    /// cancellation stops it between steps, as in <see cref="Train"/>.
    /// </summary>
    public EpochMetrics RunEpoch(int epoch, int stage)
    {
        var cancel = Execution.Cancellation;
        var sw = Stopwatch.StartNew();
        var current = Rng.GetState();
        if (_position.StepInEpoch == 0) _position = _position with { EpochStartRng = current };
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        Rng.SetState(_position.EpochStartRng);
        Rng.Shuffle(_order);
        if (_position.StepInEpoch > 0) Rng.SetState(current);

        int b = Options.BatchSize, steps = (_order.Length + b - 1) / b;
        long oneThread = _governor?.OneThreadSteps ?? 0;
        _governor?.Restart();
        for (int start = _position.StepInEpoch * b; start < _order.Length; start += b)
        {
            if (cancel.IsCancellationRequested)
            {
                // Stopped before the epoch's first step: put the generator back to where the epoch began (before the
                // shuffle), so that the saved position, "step 0 of this epoch", resumes with the same order.
                if (_position.StepInEpoch == 0) Rng.SetState(_position.EpochStartRng);
                cancel.ThrowIfCancellationRequested();
            }
            int n = Math.Min(b, _order.Length - start);
            double bound;
            bound = StepOn(_governor is null ? Execution : Execution.WithThreads(_governor.BeginStep()), _order.AsSpan(start, n));
            _governor?.EndStep();
            _position = _position with { StepInEpoch = _position.StepInEpoch + 1, EpochBoundSum = _position.EpochBoundSum + bound * n };
            Execution.Report(new StepProgress(epoch, stage, Optimizer.LearningRate, _position.StepInEpoch, steps, _position.EpochBoundSum / (start + n)));
        }
        double mean = _position.EpochBoundSum / _order.Length;
        _position = new TrainerPosition(_position.EpochsDone + 1, 0, 0, current);
        return new EpochMetrics(epoch, stage, Optimizer.LearningRate, mean, sw.Elapsed.TotalSeconds, Steps)
        {
            OneThreadSteps = (_governor?.OneThreadSteps ?? 0) - oneThread,
        };
    }

    /// <summary>Where in the schedule this trainer stands; saved in checkpoints so that training resumes exactly.</summary>
    public TrainerPosition Position
    {
        get => _position;
        set
        {
            if (value.EpochsDone < 0 || value.StepInEpoch < 0 || value.EpochStartRng is not { Length: 4 })
                throw new ArgumentException($"invalid trainer position {value}");
            if (value.StepInEpoch * (long)Options.BatchSize >= _order.Length && value.StepInEpoch > 0)
                throw new ArgumentException($"trainer position: step {value.StepInEpoch} is past the end of an epoch of {_order.Length} images in batches of {Options.BatchSize}");
            _position = value;
        }
    }

    private TrainerPosition _position = new(0, 0, 0, new ulong[4]);

    /// <summary>One Adam step on the inputs at <paramref name="rows"/>, on all of <see cref="Execution"/>'s threads; returns the minibatch bound L_k.</summary>
    public float Step(ReadOnlySpan<int> rows) => StepOn(Execution, rows);

    private float StepOn(Execution execution, ReadOnlySpan<int> rows)
    {
        var t = _tape;
        t.Reset();
        t.Execution = execution;
        var x = t.Arena.Allocate(rows.Length, _train.PixelsPerImage);
        if (_model.Config.Observation == Observation.Bernoulli) Binarize.Dynamic(_train.Images, rows, x, Rng);
        else
            for (int i = 0; i < rows.Length; i++) _train.Images.Row(rows[i]).CopyTo(x.Row(i));

        var (loss, logW) = _estimator.Surrogate(t, _model, t.Constant(x), _model.K, Rng);
        float bound = Iwae<float>.Bound(t, logW).Item;
        if (!float.IsFinite(bound) || !float.IsFinite(loss.Item))
            throw new NonFiniteException($"step {Steps + 1}: the bound became {bound} (loss {loss.Item}); {Advice}");

        Optimizer.ZeroGrad(execution);
        t.Backward(loss);
        // A non-finite gradient must never reach the weights: Adam would spread it to every later step.
        if (Optimizer.FirstNonFiniteGradient(execution) is var bad and >= 0)
            throw new NonFiniteException($"step {Steps + 1}: the gradient of {Optimizer.Parameters[bad].Name} is not finite (bound {bound}); {Advice}");
        Optimizer.Step(execution);
        return bound;
    }

    // Before the first update the learning rate cannot be the cause: the data (their scale, say) or the initial weights are.
    private string Advice => Steps == 0 ? "this is before any update, so check the data's scale" : "lower the learning rate";
}
