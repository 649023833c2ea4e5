using System.Numerics;

namespace Iwae.Autodiff;

/// <summary>
/// A handle to a value recorded on a <see cref="Tape{T}"/>. A small struct: creating one allocates nothing.
/// Valid until the tape is reset.
/// </summary>
public readonly struct Var<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal readonly Tape<T> Tape;
    internal readonly int Id;

    internal Var(Tape<T> tape, int id)
    {
        Tape = tape;
        Id = id;
    }

    /// <summary>The forward value.</summary>
    public Tensor<T> Value => Tape.ValueOf(Id);

    /// <summary>The gradient after <see cref="Tape{T}.Backward(Var{T})"/>; the null tensor if none reached this value.</summary>
    public Tensor<T> Grad => Tape.GradOrNull(Id);

    /// <summary>Rows of the value.</summary>
    public int Rows => Value.Rows;

    /// <summary>Columns of the value.</summary>
    public int Cols => Value.Cols;

    /// <summary>True when gradients flow to this value (it depends on a parameter, not through StopGradient).</summary>
    public bool RequiresGrad => Tape.RequiresGrad(Id);

    /// <summary>The single value of a [1,1] variable.</summary>
    public T Item => Value.Length == 1 ? Value.Span[0] : throw new InvalidOperationException($"Item needs a [1,1] value, got {Value.ShapeString}");

    /// <inheritdoc />
    public override string ToString() => $"Var#{Id}{Value.ShapeString}";
}
