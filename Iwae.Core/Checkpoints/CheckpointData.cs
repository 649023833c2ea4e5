using System.Globalization;
using Iwae.Autodiff;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// A checkpoint read by <see cref="Checkpoint.Load"/>: the caller's metadata, the parameters by name, and the
/// optimiser and RNG state when they were saved. Each Restore/CopyTo checks everything before changing anything.
/// </summary>
public sealed class CheckpointData
{
    private readonly ulong[]? _rngState;

    internal CheckpointData(string path, IReadOnlyDictionary<string, string> metadata, IReadOnlyDictionary<string, CheckpointTensor> parameters,
        CheckpointOptimizerState? optimizer, ulong[]? rngState)
    {
        Path = path;
        Metadata = metadata;
        Parameters = parameters;
        Optimizer = optimizer;
        _rngState = rngState;
    }

    /// <summary>The file it was loaded from.</summary>
    public string Path { get; }

    /// <summary>The metadata passed to <see cref="Checkpoint.Save"/> (the "optimizer.*" keys are in <see cref="Optimizer"/>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Parameter tensors by name (everything but optimiser and RNG state).</summary>
    public IReadOnlyDictionary<string, CheckpointTensor> Parameters { get; }

    /// <summary>Adam's state, or null when the checkpoint was saved without an optimiser.</summary>
    public CheckpointOptimizerState? Optimizer { get; }

    /// <summary>A copy of the saved generator state (4 words), or null when none was saved.</summary>
    public ulong[]? RngState => (ulong[]?)_rngState?.Clone();

    /// <summary>
    /// Copies the saved values into <paramref name="parameters"/>, matched by name. Checkpoint tensors that no
    /// parameter asks for are ignored.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A parameter is missing or has another shape (nothing is copied then).</exception>
    public void CopyTo(IReadOnlyList<Parameter<float>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var sources = new CheckpointTensor[parameters.Count];
        for (int i = 0; i < parameters.Count; i++) sources[i] = Find(Parameters, parameters[i], parameters[i].Name);
        for (int i = 0; i < parameters.Count; i++) sources[i].Values.CopyTo(parameters[i].Value.Span);
    }

    /// <summary>
    /// Restores <paramref name="adam"/>'s moments (matched by parameter name), step count and learning rate.
    /// Its beta1, beta2 and epsilon must equal the saved ones, since they cannot be changed after construction.
    /// </summary>
    /// <exception cref="CheckpointFormatException">No optimiser state, a moment missing or of another shape, or
    /// different hyperparameters (nothing is changed then).</exception>
    public void RestoreOptimizer(Adam<float> adam)
    {
        ArgumentNullException.ThrowIfNull(adam);
        var state = Optimizer ?? throw new CheckpointFormatException(Path, $"has no optimizer state (metadata '{Checkpoint.StepKey}' missing)");
        CheckHyper("beta1", adam.Beta1, state.Beta1);
        CheckHyper("beta2", adam.Beta2, state.Beta2);
        CheckHyper("eps", adam.Epsilon, state.Epsilon);
        int n = adam.Parameters.Count;
        var m = new CheckpointTensor[n];
        var v = new CheckpointTensor[n];
        for (int i = 0; i < n; i++)
        {
            var p = adam.Parameters[i];
            m[i] = Find(state.FirstMoments, p, Checkpoint.FirstMomentPrefix + p.Name);
            v[i] = Find(state.SecondMoments, p, Checkpoint.SecondMomentPrefix + p.Name);
        }
        for (int i = 0; i < n; i++)
        {
            m[i].Values.CopyTo(adam.FirstMoment(i));
            v[i].Values.CopyTo(adam.SecondMoment(i));
        }
        adam.SetStepCount(state.Step);
        adam.LearningRate = state.LearningRate;

        void CheckHyper(string name, float mine, float saved)
        {
            if (BitConverter.SingleToInt32Bits(mine) != BitConverter.SingleToInt32Bits(saved))
                throw new CheckpointFormatException(Path, $"optimizer {name} is {saved.ToString("R", CultureInfo.InvariantCulture)} in the checkpoint but {mine.ToString("R", CultureInfo.InvariantCulture)} in the optimiser being restored");
        }
    }

    /// <summary>Sets <paramref name="rng"/> to the saved state, so it continues the saved stream.</summary>
    /// <exception cref="CheckpointFormatException">The checkpoint holds no RNG state.</exception>
    public void RestoreRng(Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (_rngState is null) throw new CheckpointFormatException(Path, $"missing tensor '{Checkpoint.RngStateName}' (saved without an RNG)");
        rng.SetState(_rngState);
    }

    // tensors is keyed by parameter name; fileName is the tensor's name in the file, for the message.
    private CheckpointTensor Find(IReadOnlyDictionary<string, CheckpointTensor> tensors, Parameter<float> p, string fileName)
    {
        if (!tensors.TryGetValue(p.Name, out var t)) throw new CheckpointFormatException(Path, $"missing tensor '{fileName}' for parameter {p}");
        if (!t.HasShape(p.Rows, p.Cols))
            throw new CheckpointFormatException(Path, $"tensor '{fileName}' has shape {t.ShapeString} in the checkpoint but the parameter has shape {p.Value.ShapeString}");
        return t;
    }
}
