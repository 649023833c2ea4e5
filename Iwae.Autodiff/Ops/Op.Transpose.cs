namespace Iwae.Autodiff;

// Transpose: y = x^T     x [R,C] -> y [C,R] (a copy)
// Backward: dx += dy^T
public sealed partial class Tape<T>
{
    /// <summary>x^T, e.g. log-weights [k,B] -> [B,k].</summary>
    public Var<T> Transpose(Var<T> x)
    {
        Check(x);
        var xv = x.Value;
        var y = NewTensor(xv.Cols, xv.Rows);
        for (int i = 0; i < xv.Rows; i++)
            for (int j = 0; j < xv.Cols; j++) y[j, i] = xv[i, j];
        return Push(OpCode.Transpose, y, AnyRequiresGrad(x), x.Id);
    }

    private void BackwardTranspose(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var dx = GradOf(n.A);
        var dy = _grads[id];
        for (int i = 0; i < dx.Rows; i++)
            for (int j = 0; j < dx.Cols; j++) dx[i, j] += dy[j, i];
    }
}
