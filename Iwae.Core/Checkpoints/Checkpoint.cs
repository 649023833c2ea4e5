using System.Globalization;
using System.Numerics.Tensors;
using Iwae.Autodiff;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// Saves and loads training state as one safetensors file, so a run can stop and resume bit-identically and
/// PyTorch can open the weights. Layout:
/// <list type="bullet">
/// <item>each parameter: F32 [Rows, Cols] under its <see cref="Parameter{T}.Name"/>;</item>
/// <item>with an optimiser: "optimizer.m.&lt;name&gt;", "optimizer.v.&lt;name&gt;" (F32, the parameter's shape) and
/// metadata "optimizer.step", "optimizer.lr", "optimizer.beta1", "optimizer.beta2", "optimizer.eps";</item>
/// <item>with an RNG: "rng.state", U64 [4];</item>
/// <item>the caller's metadata (e.g. "format": "iwae.net/1", "config": the model config as JSON) in <c>__metadata__</c>.</item>
/// </list>
/// Numbers travel as raw bytes, never as text, except the optimiser scalars, which use round-trip formatting.
/// </summary>
public static class Checkpoint
{
    /// <summary>Names and metadata keys starting with this belong to the optimiser state.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>Prefix of first-moment tensors.</summary>
    public const string FirstMomentPrefix = "optimizer.m.";

    /// <summary>Prefix of second-moment tensors.</summary>
    public const string SecondMomentPrefix = "optimizer.v.";

    /// <summary>Tensor names starting with this belong to the RNG state.</summary>
    public const string RngPrefix = "rng.";

    /// <summary>Name of the RNG state tensor (U64 [4]).</summary>
    public const string RngStateName = "rng.state";

    internal const string StepKey = "optimizer.step", LearningRateKey = "optimizer.lr",
        Beta1Key = "optimizer.beta1", Beta2Key = "optimizer.beta2", EpsilonKey = "optimizer.eps";

    /// <summary>
    /// Writes <paramref name="parameters"/> (and optionally <paramref name="adam"/>'s state and <paramref name="rng"/>'s
    /// state) to <paramref name="path"/> atomically (see <see cref="SafeTensors.Write"/>).
    /// </summary>
    /// <param name="path">Target file, conventionally "*.safetensors".</param>
    /// <param name="parameters">Uniquely named; names must not start with "optimizer." or "rng.".</param>
    /// <param name="metadata">Stored as is; keys must not start with "optimizer.".</param>
    /// <param name="adam">Its parameters must be among <paramref name="parameters"/> (same names and shapes).</param>
    /// <param name="rng">The generator whose state continues the run.</param>
    /// <exception cref="ArgumentException">Reserved or duplicate names, or an optimiser over other parameters.</exception>
    /// <exception cref="IOException">Writing failed (nothing is left behind; an existing file is unchanged).</exception>
    public static void Save(string path, IReadOnlyList<Parameter<float>> parameters, IReadOnlyDictionary<string, string> metadata,
        Adam<float>? adam = null, Rng? rng = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(metadata);

        var entries = new List<SafeTensorEntry>(parameters.Count * (adam is null ? 1 : 3) + 1);
        var byName = new Dictionary<string, Parameter<float>>(StringComparer.Ordinal);
        foreach (var p in parameters)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parameters));
            if (p.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) || p.Name.StartsWith(RngPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"parameter name '{p.Name}' uses a reserved prefix ('{OptimizerPrefix}', '{RngPrefix}')", nameof(parameters));
            if (!byName.TryAdd(p.Name, p)) throw new ArgumentException($"parameter name '{p.Name}' appears twice", nameof(parameters));
            entries.Add(SafeTensorEntry.FromF32(p.Name, [p.Rows, p.Cols], p.Value.Span));
        }

        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata)
        {
            if (key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"metadata key '{key}' uses the reserved prefix '{OptimizerPrefix}'", nameof(metadata));
            meta.Add(key, value);
        }

        if (adam is not null)
        {
            for (int i = 0; i < adam.Parameters.Count; i++)
            {
                var p = adam.Parameters[i];
                if (!byName.TryGetValue(p.Name, out var q) || q.Rows != p.Rows || q.Cols != p.Cols)
                    throw new ArgumentException($"the optimiser's parameter {p} is not among the parameters being saved", nameof(adam));
                entries.Add(SafeTensorEntry.FromF32(FirstMomentPrefix + p.Name, [p.Rows, p.Cols], adam.FirstMoment(i)));
                entries.Add(SafeTensorEntry.FromF32(SecondMomentPrefix + p.Name, [p.Rows, p.Cols], adam.SecondMoment(i)));
            }
            meta[StepKey] = adam.StepCount.ToString(CultureInfo.InvariantCulture);
            meta[LearningRateKey] = Format(adam.LearningRate);
            meta[Beta1Key] = Format(adam.Beta1);
            meta[Beta2Key] = Format(adam.Beta2);
            meta[EpsilonKey] = Format(adam.Epsilon);
        }

        if (rng is not null) entries.Add(SafeTensorEntry.FromU64(RngStateName, [4], rng.GetState()));

        SafeTensors.Write(path, meta, entries);
    }

    /// <summary>
    /// Reads a checkpoint written by <see cref="Save"/> and checks its internal consistency (every tensor that
    /// is not optimiser or RNG state is F32; moments come in pairs shaped like their parameter; the optimiser
    /// scalars parse; the RNG state is U64 [4] and not all zero). Apply it with
    /// <see cref="CheckpointData.CopyTo"/>, <see cref="CheckpointData.RestoreOptimizer"/> and <see cref="CheckpointData.RestoreRng"/>.
    /// Every F32 value, weights and moments, must be finite.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Missing, malformed or inconsistent file, or a NaN or infinite value (the
    /// message names the file, and the tensor and position).</exception>
    public static CheckpointData Load(string path)
    {
        var file = SafeTensors.Read(path);
        CheckpointFormatException Bad(string problem) => new(path, problem);

        var parameters = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        var m = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        var v = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        ulong[]? rngState = null;
        foreach (var e in file.Entries)
        {
            if (e.Name == RngStateName)
            {
                if (e.DType != SafeTensorDType.U64 || e.Shape.Length != 1 || e.Shape[0] != 4)
                    throw Bad($"tensor '{RngStateName}' is {e.DType} {e.ShapeString()}, expected U64 [4]");
                rngState = e.ToU64();
                if ((rngState[0] | rngState[1] | rngState[2] | rngState[3]) == 0) throw Bad($"tensor '{RngStateName}' is all zeros, not a valid generator state");
                continue;
            }
            if (e.Name.StartsWith(RngPrefix, StringComparison.Ordinal)) throw Bad($"unknown RNG tensor '{e.Name}'");
            var target = e.Name.StartsWith(FirstMomentPrefix, StringComparison.Ordinal) ? m
                : e.Name.StartsWith(SecondMomentPrefix, StringComparison.Ordinal) ? v
                : e.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) ? throw Bad($"unknown optimizer tensor '{e.Name}'")
                : parameters;
            if (e.DType != SafeTensorDType.F32) throw Bad($"tensor '{e.Name}' is {e.DType}, expected F32");
            string key = target == parameters ? e.Name : e.Name[FirstMomentPrefix.Length..];
            var values = e.ToF32();
            RequireFinite(path, e.Name, e.Shape, values);
            target.Add(key, new CheckpointTensor(e.Name, e.ShapeArray(), values));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in file.Metadata)
            if (!key.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) metadata.Add(key, value);

        CheckpointOptimizerState? optimizer = null;
        if (file.Metadata.ContainsKey(StepKey))
        {
            if (!long.TryParse(file.Metadata[StepKey], NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                throw Bad($"metadata '{StepKey}' = '{file.Metadata[StepKey]}' is not a step count");
            foreach (var (name, moment) in m)
            {
                if (!parameters.TryGetValue(name, out var p)) throw Bad($"tensor '{moment.Name}' belongs to no parameter ('{name}' missing)");
                if (!v.TryGetValue(name, out var second)) throw Bad($"tensor '{moment.Name}' has no partner '{SecondMomentPrefix + name}'");
                if (!SameShape(moment, p) || !SameShape(second, p))
                    throw Bad($"optimizer moments of '{name}' have shapes {moment.ShapeString} and {second.ShapeString}, the parameter has {p.ShapeString}");
            }
            foreach (var (name, moment) in v)
                if (!m.ContainsKey(name)) throw Bad($"tensor '{moment.Name}' has no partner '{FirstMomentPrefix + name}'");
            optimizer = new CheckpointOptimizerState(step, ParseFloat(LearningRateKey), ParseFloat(Beta1Key), ParseFloat(Beta2Key), ParseFloat(EpsilonKey), m, v);
        }
        else if (m.Count + v.Count > 0 || file.Metadata.Keys.Any(k => k.StartsWith(OptimizerPrefix, StringComparison.Ordinal)))
        {
            throw Bad($"optimizer state without metadata '{StepKey}'");
        }

        return new CheckpointData(path, metadata, parameters, optimizer, rngState);

        float ParseFloat(string key)
        {
            if (!file.Metadata.TryGetValue(key, out var s)) throw Bad($"metadata '{key}' is missing");
            if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float x)) throw Bad($"metadata '{key}' = '{s}' is not a number");
            return x;
        }
    }

    /// <summary>
    /// Throws unless every value of the tensor <paramref name="name"/> [<paramref name="shape"/>] of <paramref name="path"/> is
    /// finite: a NaN or infinite weight or moment makes every number computed from it NaN, so such a file is refused where
    /// it is read, with the first bad value's position, rather than evaluated to NaN.
    /// </summary>
    /// <exception cref="CheckpointFormatException">A NaN or infinity, named with its tensor and position.</exception>
    internal static void RequireFinite(string path, string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> values)
    {
        if (TensorPrimitives.IsFiniteAll(values)) return;       // vectorised: the common case costs one pass
        int first = -1, count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            if (count++ == 0) first = i;
        }
        string more = count == 1 ? "" : $" (and {count - 1} more non-finite value{(count == 2 ? "" : "s")})";
        throw new CheckpointFormatException(path,
            $"tensor '{name}' holds {values[first].ToString(CultureInfo.InvariantCulture)} at {Position(first, shape)}{more}; {(name.StartsWith(OptimizerPrefix, StringComparison.Ordinal) ? "optimizer state" : "weights")} must be finite");
    }

    // The row-major index [i0,i1,...] of the flat position i in a tensor of this shape.
    private static string Position(int i, ReadOnlySpan<int> shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : i % shape[d];
            i = shape[d] == 0 ? i : i / shape[d];
        }
        return "[" + string.Join(",", index) + "]";
    }

    // "R" on float is the shortest string that parses back to the same bits (.NET Core 3.0 and later).
    private static string Format(float x) => x.ToString("R", CultureInfo.InvariantCulture);

    private static bool SameShape(CheckpointTensor a, CheckpointTensor b) => a.Shape.SequenceEqual(b.Shape);
}
