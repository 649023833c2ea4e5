using System.Diagnostics.CodeAnalysis;

namespace Iwae.Core.Checkpoints;

/// <summary>
/// The validated contents of a safetensors file, as returned by <see cref="SafeTensors.Read"/>: the
/// <c>__metadata__</c> strings and the tensors by name. Lookups of a missing name or of the wrong dtype throw
/// <see cref="CheckpointFormatException"/> naming the file, since they mean the file is not what was expected.
/// </summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensorEntry> _tensors;

    internal SafeTensorsFile(string path, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensorEntry> entries)
    {
        Path = path;
        Metadata = metadata;
        Entries = entries;
        _tensors = new Dictionary<string, SafeTensorEntry>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries) _tensors.Add(e.Name, e);
    }

    /// <summary>The path the file was read from.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, in the order of their data in the file.</summary>
    public IReadOnlyList<SafeTensorEntry> Entries { get; }

    /// <summary>True when a tensor named <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor named <paramref name="name"/>, or false.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out SafeTensorEntry? entry) => _tensors.TryGetValue(name, out entry);

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointFormatException">No such tensor.</exception>
    public SafeTensorEntry this[string name] =>
        _tensors.TryGetValue(name, out var e) ? e : throw new CheckpointFormatException(Path, $"missing tensor '{name}'");

    /// <summary>The values of the F32 tensor <paramref name="name"/> (a copy) and its shape.</summary>
    /// <exception cref="CheckpointFormatException">Missing, or not F32.</exception>
    public float[] GetF32(string name, out int[] shape) => Get(name, SafeTensorDType.F32, out shape).ToF32();

    /// <summary>The values of the F64 tensor <paramref name="name"/> (a copy) and its shape.</summary>
    /// <exception cref="CheckpointFormatException">Missing, or not F64.</exception>
    public double[] GetF64(string name, out int[] shape) => Get(name, SafeTensorDType.F64, out shape).ToF64();

    /// <summary>The values of the I64 tensor <paramref name="name"/> (a copy) and its shape.</summary>
    /// <exception cref="CheckpointFormatException">Missing, or not I64.</exception>
    public long[] GetI64(string name, out int[] shape) => Get(name, SafeTensorDType.I64, out shape).ToI64();

    /// <summary>The values of the U64 tensor <paramref name="name"/> (a copy) and its shape.</summary>
    /// <exception cref="CheckpointFormatException">Missing, or not U64.</exception>
    public ulong[] GetU64(string name, out int[] shape) => Get(name, SafeTensorDType.U64, out shape).ToU64();

    private SafeTensorEntry Get(string name, SafeTensorDType dtype, out int[] shape)
    {
        var e = this[name];
        if (e.DType != dtype) throw new CheckpointFormatException(Path, $"tensor '{name}' is {e.DType}, expected {dtype}");
        shape = e.ShapeArray();
        return e;
    }
}
