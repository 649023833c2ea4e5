namespace Iwae.Core.Checkpoints;

/// <summary>One F32 tensor of a loaded checkpoint: a parameter or an optimiser moment, row-major.</summary>
public sealed class CheckpointTensor
{
    internal CheckpointTensor(string name, int[] shape, float[] values)
    {
        Name = name;
        Shape = Array.AsReadOnly(shape);
        Values = values;
    }

    /// <summary>The name in the file, e.g. "encoder.0.W" or "optimizer.m.encoder.0.W".</summary>
    public string Name { get; }

    /// <summary>Dimensions as stored; [Rows, Cols] for what <see cref="Checkpoint.Save"/> wrote.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The values, bit-exactly as saved (owned by the loaded checkpoint; copy before changing).</summary>
    public float[] Values { get; }

    /// <summary>The shape as "[d0,d1,...]".</summary>
    public string ShapeString => "[" + string.Join(",", Shape) + "]";

    /// <summary>True when the shape is exactly [<paramref name="rows"/>, <paramref name="cols"/>].</summary>
    public bool HasShape(int rows, int cols) => Shape.Count == 2 && Shape[0] == rows && Shape[1] == cols;
}
