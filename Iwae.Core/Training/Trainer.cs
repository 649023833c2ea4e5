using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Core;

/// <summary>One epoch's figures, written as a JSON line by the CLI.</summary>
/// <param name="Epoch">1-based epoch over the whole schedule.</param>
/// <param name="Stage">Schedule stage.</param>
/// <param name="LearningRate">Adam's step size during the epoch.</param>
/// <param name="TrainBound">Mean over the epoch's inputs of the bound L_k on its minibatch (nats; higher is better).</param>
/// <param name="Seconds">Wall time of the epoch.</param>
/// <param name="Steps">Optimiser steps taken so far.</param>
public sealed record EpochMetrics(int Epoch, int Stage, double LearningRate, double TrainBound, double Seconds, long Steps);

/// <summary>Where an epoch is, after each optimiser step (for progress displays).</summary>
/// <param name="Epoch">1-based epoch over the whole schedule.</param>
/// <param name="Stage">Schedule stage.</param>
/// <param name="LearningRate">Adam's step size.</param>
/// <param name="Step">Steps taken in this epoch (1-based).</param>
/// <param name="StepsPerEpoch">Minibatches per epoch.</param>
/// <param name="RunningBound">Mean over the epoch's inputs so far of the minibatch bound L_k (nats).</param>
public readonly record struct StepProgress(int Epoch, int Stage, double LearningRate, int Step, int StepsPerEpoch, double RunningBound);

/// <summary>Thrown when a loss or gradient stops being finite; names the step and what went wrong.</summary>
public sealed class NonFiniteException(string message) : Exception(message);

/// <summary>
/// Trains an <see cref="Iwae{T}"/> (or <see cref="Vae{T}"/>) with Adam on minibatches, dynamically binarised
/// (x ~ Bernoulli(pixel)) for the Bernoulli decoder, reshuffled every epoch. Deterministic for a seed and
/// thread count: the one <see cref="Rng"/> drives shuffling, binarisation and the sampling noise in a fixed order.
/// </summary>
public sealed class Trainer
{
    private readonly Iwae<float> _model;
    private readonly Dataset _train;
    private readonly Tape<float> _tape = new();
    private readonly int[] _order;

    /// <summary>The options in force.</summary>
    public TrainOptions Options { get; }

    /// <summary>The optimiser (its state goes into checkpoints).</summary>
    public Adam<float> Optimizer { get; }

    /// <summary>Drives data order, binarisation and noise (its state goes into checkpoints).</summary>
    public Rng Rng { get; }

    /// <summary>Called after every step; keep it cheap (it runs hundreds of times a second).</summary>
    public Action<StepProgress>? OnStep { get; set; }

    /// <summary>Steps taken.</summary>
    public long Steps => Optimizer.StepCount;

    /// <summary>A trainer for <paramref name="model"/> on <paramref name="train"/>.</summary>
    public Trainer(Iwae<float> model, Dataset train, TrainOptions options)
    {
        Options = options.Validate();
        if (train.PixelsPerImage != model.Config.InputSize)
            throw new ArgumentException($"the data has {train.PixelsPerImage} pixels per image, the model expects {model.Config.InputSize}");
        if (train.Count == 0) throw new ArgumentException("the training set is empty");
        _model = model;
        _train = train;
        Optimizer = new Adam<float>(model.Parameters, options.LearningRate, options.Beta1, options.Beta2, options.AdamEpsilon);
        Rng = new Rng(options.Seed ^ 0x7261696E);   // a stream apart from the weight initialisation's
        _order = Enumerable.Range(0, train.Count).ToArray();
    }

    /// <summary>
    /// Runs the whole schedule, reporting each epoch to <paramref name="onEpoch"/> and the end of each stage
    /// (with its last epoch's figures) to <paramref name="onStageEnd"/>.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Train(Action<EpochMetrics>? onEpoch = null, CancellationToken cancel = default, Action<EpochMetrics>? onStageEnd = null)
    {
        var all = new List<EpochMetrics>();
        int epoch = 0;
        foreach (var (stage, epochs, lr) in Options.Schedule())
        {
            Optimizer.LearningRate = (float)lr;
            for (int e = 0; e < epochs; e++)
            {
                cancel.ThrowIfCancellationRequested();
                var m = RunEpoch(++epoch, stage);
                all.Add(m);
                onEpoch?.Invoke(m);
            }
            if (all.Count > 0 && epochs > 0) onStageEnd?.Invoke(all[^1]);
        }
        return all;
    }

    /// <summary>One pass over the shuffled training set.</summary>
    public EpochMetrics RunEpoch(int epoch, int stage)
    {
        var sw = Stopwatch.StartNew();
        // The order depends on the RNG state alone (not on the previous epoch's order), so a run resumed from a
        // checkpoint, which restores the RNG, visits the data exactly as the uninterrupted run does.
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        Rng.Shuffle(_order);
        double sum = 0;
        int b = Options.BatchSize, steps = (_order.Length + b - 1) / b;
        for (int start = 0; start < _order.Length; start += b)
        {
            int n = Math.Min(b, _order.Length - start);
            sum += Step(_order.AsSpan(start, n)) * n;
            OnStep?.Invoke(new StepProgress(epoch, stage, Optimizer.LearningRate, start / b + 1, steps, sum / (start + n)));
        }
        return new EpochMetrics(epoch, stage, Optimizer.LearningRate, sum / _order.Length, sw.Elapsed.TotalSeconds, Steps);
    }

    /// <summary>One Adam step on the inputs at <paramref name="rows"/>; returns the minibatch bound L_k.</summary>
    public float Step(ReadOnlySpan<int> rows)
    {
        var t = _tape;
        t.Reset();
        var x = t.Arena.Allocate(rows.Length, _train.PixelsPerImage);
        if (_model.Config.Observation == Observation.Bernoulli) Binarize.Dynamic(_train.Images, rows, x, Rng);
        else
            for (int i = 0; i < rows.Length; i++) _train.Images.Row(rows[i]).CopyTo(x.Row(i));

        var logW = _model.LogWeights(t, t.Constant(x), _model.K, Rng);
        var loss = _model.Loss(t, logW);
        float bound = Iwae<float>.Bound(t, logW).Item;
        if (!float.IsFinite(bound) || !float.IsFinite(loss.Item))
            throw new NonFiniteException($"step {Steps + 1}: the bound became {bound} (loss {loss.Item}); lower the learning rate");

        _model.Parameters.ZeroGrad();
        t.Backward(loss);
        // A non-finite gradient must never reach the weights: Adam would spread it to every later step.
        foreach (var p in _model.Parameters)
            if (!System.Numerics.Tensors.TensorPrimitives.IsFiniteAll<float>(p.Grad.Span))
                throw new NonFiniteException($"step {Steps + 1}: the gradient of {p.Name} is not finite (bound {bound}); lower the learning rate");
        Optimizer.Step();
        return bound;
    }
}
